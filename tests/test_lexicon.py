"""The sensory lexicon: values against the bundled norms, look-up sources, dimensions, bad input."""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources

import numpy as np
import pytest

from sensoryt5.lexicon import SensoryLexicon, is_predictable, normalise, phrase_key
from sensoryt5.norms import ACTION, PERCEPTUAL, SENSORIMOTOR, load_norms, parse_dims


@pytest.fixture(scope="module")
def raw_norms() -> dict[str, list[float]]:
    """The bundled CSV read independently of `norms.py`."""
    raw = resources.files("sensoryt5").joinpath("resources/norms/Lancaster_sensorimotor.csv.gz").read_bytes()
    reader = csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    header = next(reader)
    assert header[0] == "Word" and len(header) == 12
    return {row[0].lower(): [float(v) for v in row[1:]] for row in reader}


def test_norms_table_is_complete(raw_norms):
    norms = load_norms()
    assert len(norms.words) == 39_707 == len(raw_norms)
    assert norms.values.shape == (39_707, 11)
    assert sum(" " in w for w in norms.words) == 2_896
    assert norms.values.min() == 0.0 and norms.values.max() == 5.0
    for word in ("banana", "a cappella", "zucchini"):
        np.testing.assert_allclose(norms.values[norms.words.index(word)], raw_norms[word], atol=1e-6)


@pytest.mark.parametrize("word", ["banana", "Banana", "BANANA", "thunder", "perfume", "velvet"])
def test_exact_lookup_matches_norms(lexicon, raw_norms, word):
    found = lexicon.lookup(word)
    assert found.source == "exact" and found.entry == word.lower()
    np.testing.assert_allclose(found.vector, raw_norms[word.lower()][:6], atol=1e-6)


@pytest.mark.parametrize(("word", "lemma"), [("bananas", "banana"), ("sniffed", "sniff"), ("Oranges", "orange"),
                                             ("tastier", "tasty"), ("screamed", "scream")])
def test_lemma_lookup(lexicon, raw_norms, word, lemma):
    assert word.lower() not in raw_norms
    found = lexicon.lookup(word)
    assert (found.source, found.entry) == ("lemma", lemma)
    np.testing.assert_allclose(found.vector, raw_norms[lemma][:6], atol=1e-6)


def test_inflected_forms_that_are_entries_use_their_own_ratings(lexicon, raw_norms):
    # "smelled" and "happier" are rated entries of their own, so the exact rating wins over the lemma's.
    for word in ("smelled", "happier"):
        assert lexicon.lookup(word).source == "exact"
        np.testing.assert_allclose(lexicon.lookup(word).vector, raw_norms[word][:6], atol=1e-6)
    assert not np.allclose(raw_norms["smelled"][:6], raw_norms["smell"][:6])


@pytest.mark.parametrize(("phrase", "entry"), [("ice cream", "ice cream"), ("Ice  Cream", "ice cream"),
                                               ("ice-cream", "ice cream"), ("ice creams", "ice cream"),
                                               ("a cappella", "a cappella")])
def test_multiword_lookup(lexicon, raw_norms, phrase, entry):
    found = lexicon.lookup(phrase)
    assert (found.source, found.entry) == ("multiword", entry)
    np.testing.assert_allclose(found.vector, raw_norms[entry][:6], atol=1e-6)


def test_hyphenated_single_entries_are_exact(lexicon):
    assert (lexicon.lookup("T-shirt").source, lexicon.lookup("T-shirt").entry) == ("exact", "t-shirt")
    assert lexicon.lookup("t-shirts").entry == "t-shirt"


def test_unknown_words_are_missing_without_regressor(lexicon):
    for word in ("xyzzyplugh", "😀", "東京", "1234"):
        found = lexicon.lookup(word)
        assert found.source == "missing" and found.entry is None
        assert not found.vector.any()


def test_only_latin_script_words_are_predictable():
    for word in ("zorbification", "très", "straße", "łódź", "éclair", "x2"):
        assert is_predictable(word), word
    for word in ("香蕉", "банан", "موز", "λόγος", "très香蕉", "😀", "1234", "!!!", ""):
        assert not is_predictable(word), word


def test_non_latin_words_are_missing_with_the_regressor_enabled():
    lex = SensoryLexicon(oov_embedder="minilm")
    vectors, sources, _ = lex.lookup_many(["香蕉", "банан", "موز", "banana"])
    assert sources == ["missing", "missing", "missing", "exact"]
    assert not vectors[:3].any()
    assert "regressor" not in lex.__dict__  # nothing was sent to the regressor


def test_dimension_subsets_keep_the_requested_order(raw_norms):
    lex = SensoryLexicon(dims="visual,gustatory", oov_embedder=None)
    assert lex.dims == ("visual", "gustatory")
    np.testing.assert_allclose(lex.lookup("banana").vector, [raw_norms["banana"][5], raw_norms["banana"][1]],
                               atol=1e-6)
    assert SensoryLexicon(dims="action", oov_embedder=None).dims == ACTION
    full = SensoryLexicon(dims="sensorimotor", oov_embedder=None).lookup("banana").vector
    np.testing.assert_allclose(full, raw_norms["banana"], atol=1e-6)


def test_parse_dims():
    assert parse_dims("perceptual") == PERCEPTUAL
    assert parse_dims("sensorimotor") == SENSORIMOTOR
    assert parse_dims("Hand-Arm, head") == ("hand_arm", "head")
    for bad in ("smell", "", "visual,visual"):
        with pytest.raises(ValueError):
            parse_dims(bad)


def test_bad_input_is_named(lexicon):
    with pytest.raises(TypeError, match="item 1 is NoneType"):
        lexicon.lookup_many(["banana", None])
    with pytest.raises(TypeError, match="item 0 is int"):
        lexicon.lookup_many([3])
    with pytest.raises(ValueError, match="item 0 is an empty"):
        lexicon.lookup("")
    with pytest.raises(ValueError, match="whitespace-only"):
        lexicon.lookup("  \t")
    assert lexicon.lookup("x" * 100_000).source == "missing"
    assert lexicon.lookup_many([])[0].shape == (0, 6)


def test_normalise_and_phrase_key():
    assert normalise("  Banana,") == "banana"
    assert normalise("“Hello!”") == "hello"
    assert normalise("don’t") == "don't"
    assert phrase_key("T-Shirt") == ("t", "shirt")
    assert phrase_key("ice   cream") == ("ice", "cream")


@pytest.mark.slow
def test_oov_words_are_predicted_within_range():
    lex = SensoryLexicon()
    found = lex.lookup("zorbification")
    assert found.source == "predicted" and found.entry is None
    assert found.vector.shape == (6,) and (found.vector >= 0).all() and (found.vector <= 5).all()
    assert found.vector.any()
    assert lex.lookup("😀").source == "missing"
    assert lex.lookup("très").source == "predicted"  # Latin-script non-English words are predicted like English
    # Known words never go through the regressor.
    assert lex.lookup("banana").source == "exact"
