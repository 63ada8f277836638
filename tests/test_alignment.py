"""Token alignment: the per-token sensory tensor for WordPiece (MiniLM) and SentencePiece (T5) tokenizers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sensoryt5.alignment import MODES, SensoryProcessor, random_vectors, shuffled_rows
from sensoryt5.lexicon import SensoryLexicon

TOKENIZERS = ["minilm_tokenizer", "t5_tokenizer"]


def _vector(lexicon, word):
    return lexicon.lookup(word).vector


def _token_rows(processor, text):
    """(token, sensory row) pairs of one text."""
    out = processor([text], return_tensors="np")
    tokens = processor.tokenizer.convert_ids_to_tokens(out["input_ids"][0].tolist())
    return list(zip(tokens, out["sensory"][0]))


@pytest.fixture(params=TOKENIZERS)
def processor(request, lexicon):
    return SensoryProcessor(request.getfixturevalue(request.param), lexicon)


def test_shapes_and_zero_rows_at_special_and_pad_tokens(processor):
    texts = ["The soup smelled wonderful.", "I heard thunder and saw lightning over the dark sea tonight!", ""]
    out = processor(texts, return_tensors="np")
    batch, length = out["input_ids"].shape
    assert out["sensory"].shape == (batch, length, 6) and out["sensory"].dtype == np.float32
    assert out["attention_mask"].shape == (batch, length)
    special = np.isin(out["input_ids"], processor.tokenizer.all_special_ids)
    assert special.any() and not out["sensory"][special].any()
    assert not out["sensory"][out["attention_mask"] == 0].any()
    assert (out["attention_mask"] == 0).any()  # padding happened
    assert not out["sensory"][2].any()  # the empty text
    assert out["sensory"][0].any() and out["sensory"][1].any()


def test_torch_tensors_by_default(processor):
    import torch

    out = processor(["A sweet banana."])
    assert set(out) == {"input_ids", "attention_mask", "sensory"}
    assert all(isinstance(v, torch.Tensor) for v in out.values())
    assert out["sensory"].dtype == torch.float32


def test_every_subword_token_carries_its_words_vector(processor, lexicon):
    text = "unbelievably crunchiest thunderstorms"
    rows = _token_rows(processor, text)
    words = processor.explain_words(text)
    assert [w["word"].lower() for w in words] == text.split()
    for word in words:
        expected = _vector(lexicon, word["word"])
        for position in word["token_positions"]:
            np.testing.assert_allclose(rows[position][1], expected, atol=1e-6)
    assert any(len(w["token_positions"]) > 1 for w in words)  # the test really covers sub-words


def test_punctuation_tokens_carry_zeros(processor):
    rows = _token_rows(processor, "banana, apple; (lemon)!")
    for token, row in rows:
        body = token.lstrip("▁")
        if body and not any(ch.isalnum() for ch in body):
            assert not row.any(), token
    assert sum(row.any() for _, row in rows) >= 3


def test_multiword_entries_are_matched_longest_first(processor, lexicon):
    words = {w["word"].lower(): w for w in processor.explain_words("I ate ice cream")}
    ice_cream = _vector(lexicon, "ice cream")
    assert not np.allclose(ice_cream, _vector(lexicon, "ice"))
    rows = _token_rows(processor, "I ate ice cream")
    for word in ("ice", "cream"):
        assert words[word]["source"] == "multiword"
        for position in words[word]["token_positions"]:
            np.testing.assert_allclose(rows[position][1], ice_cream, atol=1e-6)
    assert words["ate"]["source"] == "exact"


def test_multiword_needs_adjacent_words(processor, lexicon):
    words = {w["word"].lower(): w for w in processor.explain_words("ice, cream")}
    assert words["ice"]["source"] == "exact" and words["cream"]["source"] == "exact"


def test_case_insensitive_and_lemmatised(processor, lexicon):
    words = processor.explain_words("Banana BANANA bananas")
    assert [w["source"] for w in words] == ["exact", "exact", "lemma"]
    for w in words:
        np.testing.assert_allclose(list(w["vector"].values()), _vector(lexicon, "banana"), atol=1e-4)


def test_none_mode_is_all_zero(processor, lexicon):
    none = SensoryProcessor(processor.tokenizer, lexicon, sensory_mode="none")
    assert not none(["Sweet bananas smell good."], return_tensors="np")["sensory"].any()


def test_random_mode_same_word_same_vector_and_range(processor, lexicon):
    rnd = SensoryProcessor(processor.tokenizer, lexicon, sensory_mode="random", seed=3)
    out = rnd(["banana ripe", "a banana"], return_tensors="np")
    words_a = rnd.explain_words("banana ripe")
    words_b = rnd.explain_words("a banana")
    assert words_a[0]["vector"] == words_b[1]["vector"]
    values = out["sensory"][out["sensory"] != 0]
    assert values.size and values.min() >= 0 and values.max() < 5
    assert not np.allclose(list(words_a[0]["vector"].values()), _vector(lexicon, "banana"), atol=1e-2)
    other_seed = SensoryProcessor(processor.tokenizer, lexicon, sensory_mode="random", seed=4).explain_words("a banana")
    assert other_seed[1]["vector"] != words_b[1]["vector"]


def test_random_vectors_are_identical_across_processes():
    words = ["banana", "thunder", "東京", "ice cream"]
    here = random_vectors(words, ("visual", "gustatory"), seed=7)
    code = ("import json; from sensoryt5.alignment import random_vectors; "
            f"print(json.dumps(random_vectors({words!r}, ('visual', 'gustatory'), seed=7).tolist()))")
    for hash_seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                env={"PYTHONHASHSEED": hash_seed, "PATH": ""})
        np.testing.assert_array_equal(np.array(json.loads(result.stdout), dtype=np.float32), here)
    # A dimension's value does not depend on which other dimensions were asked for.
    np.testing.assert_array_equal(random_vectors(words, ("gustatory",), seed=7)[:, 0], here[:, 1])


def test_shuffled_mode_permutes_norms_across_words(processor, lexicon):
    shuffled = SensoryProcessor(processor.tokenizer, lexicon, sensory_mode="shuffled", seed=0)
    perm = shuffled_rows(len(lexicon.norms.words), 0)
    assert sorted(perm.tolist()) == list(range(len(lexicon.norms.words)))
    np.testing.assert_array_equal(perm, shuffled_rows(len(lexicon.norms.words), 0))
    word = shuffled.explain_words("thunder")[0]
    expected = lexicon.table[perm[lexicon.entry_rows["thunder"]]]
    np.testing.assert_allclose(list(word["vector"].values()), expected, atol=1e-4)
    assert not np.allclose(expected, _vector(lexicon, "thunder"))


def test_dimension_subset(processor):
    lex = SensoryLexicon(dims="olfactory", oov_embedder=None)
    sub = SensoryProcessor(processor.tokenizer, lex)
    out = sub(["perfume"], return_tensors="np")
    assert out["sensory"].shape[-1] == 1
    assert out["sensory"].max() == pytest.approx(lex.lookup("perfume").vector[0], abs=1e-6)


def test_ablating_a_sense_zeroes_its_column_only(tmp_path, processor, lexicon):
    texts = ["Sweet bananas and ice cream smelled of thunder.", "soft velvet"]
    full = processor(texts, return_tensors="np")["sensory"]
    ablated = SensoryProcessor(processor.tokenizer, lexicon, ablate=["olfactory", "auditory"])
    out = ablated(texts, return_tensors="np")["sensory"]
    assert out.shape == full.shape
    zeroed = [lexicon.dims.index("olfactory"), lexicon.dims.index("auditory")]
    kept = [i for i in range(len(lexicon.dims)) if i not in zeroed]
    assert full[..., zeroed].any() and not out[..., zeroed].any()
    np.testing.assert_array_equal(out[..., kept], full[..., kept])
    assert ablated.explain_words("thunder")[0]["vector"]["auditory"] == 0.0
    assert ablated.settings()["ablate"] == ["auditory", "olfactory"]  # the lexicon's column order
    ablated.save_pretrained(tmp_path)
    np.testing.assert_array_equal(SensoryProcessor.from_pretrained(tmp_path)(texts, return_tensors="np")["sensory"],
                                  out)


def test_ablation_must_name_some_but_not_all_dimensions(processor, lexicon):
    from sensoryt5.errors import OptionError

    with pytest.raises(OptionError, match="unknown dimension to ablate 'smell'"):
        SensoryProcessor(processor.tokenizer, lexicon, ablate=["smell"])
    with pytest.raises(OptionError, match="cannot ablate every dimension"):
        SensoryProcessor(processor.tokenizer, lexicon, ablate=list(lexicon.dims))


def test_truncation_to_max_length(processor, lexicon):
    short = SensoryProcessor(processor.tokenizer, lexicon, max_length=8)
    out = short(["the " * 50], return_tensors="np")
    assert out["input_ids"].shape == (1, 8)
    special = np.isin(out["input_ids"][0], processor.tokenizer.all_special_ids)
    expected = np.tile(lexicon.lookup("the").vector, (int((~special).sum()), 1))
    np.testing.assert_allclose(out["sensory"][0, ~special], expected)
    assert (~special).sum() >= 6


@pytest.mark.parametrize("text", ["", "   \n\t ", "😀😀 🎉", "東京は雨です", "Привет мир", "x" * 100_000,
                                  "word " * 20_000, "\x00\x01 control", "a" + "\u0301" * 50])
def test_odd_texts_never_crash(processor, text):
    out = processor([text, "banana"], return_tensors="np")
    assert out["sensory"].shape[:2] == out["input_ids"].shape
    assert np.isfinite(out["sensory"]).all()
    assert out["sensory"][1].any()
    if not text.strip():
        assert not out["sensory"][0].any()


def test_bad_inputs_name_the_item(processor):
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        processor(["fine", None])
    with pytest.raises(TypeError, match="text 0 is int"):
        processor([42])
    with pytest.raises(TypeError, match="got NoneType"):
        processor(None)
    with pytest.raises(ValueError, match="no texts"):
        processor([])
    with pytest.raises(ValueError, match="unknown sensory mode"):
        SensoryProcessor(processor.tokenizer, processor.lexicon, sensory_mode="zeros")


def test_coverage_report(processor):
    report = processor.coverage(["I ate ice cream with bananas.", "xyzzyplugh frobnicated"])
    shares = [report[s] for s in ("exact", "lemma", "multiword", "predicted", "missing")]
    assert report["words"] == 8
    assert sum(shares) == pytest.approx(1.0)
    assert report["multiword"] == pytest.approx(2 / 8)
    assert report["lemma"] == pytest.approx(1 / 8)
    assert report["missing"] == pytest.approx(2 / 8)
    assert report["found"] == pytest.approx(6 / 8)


def test_save_and_reload(tmp_path, processor):
    processor.save_pretrained(tmp_path)
    reloaded = SensoryProcessor.from_pretrained(tmp_path, oov_embedder=None)
    texts = ["Sweet bananas and ice cream.", "thunder!"]
    a, b = processor(texts, return_tensors="np"), reloaded(texts, return_tensors="np")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert reloaded.settings()["sensory_mode"] == "norms" and reloaded.lexicon.dims == processor.lexicon.dims


def test_all_modes_listed():
    assert MODES == ("norms", "random", "shuffled", "none")


def test_unknown_tokens_stay_words_that_are_missing(processor):
    """[UNK] (most Chinese characters for MiniLM) is kept as a word with zeros, shown with its own characters."""
    text = "banana 犇 banana"
    words = processor.explain_words(text)
    assert [w["word"] for w in words] == ["banana", "犇", "banana"]
    unknown = words[1]
    assert unknown["source"] == "missing" and not any(unknown["vector"].values())
    ids = processor([text], return_tensors="np")["input_ids"][0]
    assert processor.tokenizer.unk_token_id in ids[unknown["token_positions"]].tolist()
    assert words[0]["source"] == words[2]["source"] == "exact"


def test_non_latin_words_get_no_values_even_with_a_regressor(minilm_tokenizer, lexicon):
    """The norms are English: Cyrillic, Arabic, CJK words are missing, never predicted (the regressor is not
    even loaded)."""
    with_oov = SensoryLexicon(oov_embedder="minilm")
    processor = SensoryProcessor(minilm_tokenizer, with_oov)
    words = processor.explain_words("банан موز 我爱 banana")
    assert [w["source"] for w in words][-1] == "exact"
    assert all(w["source"] == "missing" and not any(w["vector"].values()) for w in words[:-1])
    assert "regressor" not in with_oov.__dict__


def test_text_coverage_per_text(processor):
    texts = ["banana", "banana xyzzyplugh", "", "!!! ...", "ice cream 犇", "I ate bananas."]
    shares = processor.text_coverage(texts)
    assert shares[:5] == pytest.approx([1.0, 0.5, 0.0, 0.0, 2 / 3])
    assert shares[5] == pytest.approx(1.0)  # "i", "ate" (lemma of eat), "bananas" (lemma)
    assert processor.text_coverage(texts, batch_size=2) == pytest.approx(shares)
    assert processor.text_coverage([]) == []
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        processor.text_coverage(["fine", None])
