"""Pluggable lexicons (`--lexicon lancaster|nrc-emolex|PATH.csv`): reading, dimensions, the OOV regressor per
lexicon, a saved model that reloads with its lexicon, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_first_hour_data import one_error_line, sensoryt5
from test_oov import SMALL_CONFIG, ToyEmbedder

from sensoryt5 import lexicons, oov
from sensoryt5.errors import InputError, ModelLoadError, OptionError
from sensoryt5.lexicon import SensoryLexicon
from sensoryt5.norms import PERCEPTUAL, load_norms, parse_dims

VAD = "word,valence,arousal,dominance\nhappy,0.96,0.73,0.68\nangry,0.12,0.83,0.58\nbanana,0.74,0.32,0.44\n" \
      "ice cream,0.9,0.5,0.5\n"


@pytest.fixture
def vad_csv(tmp_path) -> Path:
    """A three-column lexicon in the NRC VAD layout, with one multi-word entry."""
    path = tmp_path / "vad.csv"
    path.write_text(VAD, encoding="utf-8")
    return path


def test_csv_lexicon_looks_up_words_lemmas_and_phrases(vad_csv):
    lexicon = SensoryLexicon(lexicon=vad_csv, oov_embedder=None)
    assert lexicon.dims == ("valence", "arousal", "dominance")  # every column by default
    vectors, sources, entries = lexicon.lookup_many(["Happy!", "bananas", "ice cream", "zebra"])
    np.testing.assert_allclose(vectors[0], [0.96, 0.73, 0.68], rtol=1e-6)
    assert sources == ["exact", "lemma", "multiword", "missing"] and entries[1] == "banana"
    assert not vectors[3].any()
    assert lexicon.settings()["lexicon"] == str(vad_csv)
    assert SensoryLexicon(lexicon=vad_csv, dims="arousal", oov_embedder=None).lookup("angry").vector.tolist() == \
        pytest.approx([0.83])


def test_dimension_choices_follow_the_lexicon(vad_csv):
    table = lexicons.load_lexicon(vad_csv)
    assert parse_dims(None, table) == parse_dims("all", table) == ("valence", "arousal", "dominance")
    assert parse_dims(None) == PERCEPTUAL and parse_dims("all") == load_norms().dims
    with pytest.raises(OptionError, match=r"unknown sensory dimension.*vad\.csv lexicon; choose from valence"):
        parse_dims("perceptual", table)
    with pytest.raises(OptionError, match="for the lancaster lexicon"):
        parse_dims("valence")


@pytest.mark.parametrize("text, where", [
    ("word,a\nhappy,x\n", "row 2, column 'a': 'x' is not a number"),
    ("word,a\nhappy,\n", "row 2, column 'a': '' is not a number"),
    ("word,a\nhappy,nan\n", "not a finite number"),
    ("word,a\nhappy,1\nHappy,2\n", "row 3, column 'word': 'happy' repeats row 2"),
    ("word,a\n,1\n", "row 2, column 'word': empty word"),
    ("word,a\nhappy,1,2\n", "row 2: 3 cells for 2 columns"),
    ("word\nhappy\n", "row 1: the lexicon needs a header row with a word column"),
    ("word,a,a\nhappy,1,2\n", "repeated column names"),
    ("word,a\n", "the lexicon has no rows"),
])
def test_malformed_csv_lexicons_name_file_row_and_column(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="file .*bad.csv") as caught:
        lexicons.load_lexicon(path)
    assert where in str(caught.value)


def test_unknown_lexicon_name_is_an_option_error(tmp_path):
    with pytest.raises(OptionError, match="--lexicon nrc: no such file; choose lancaster, nrc-emolex"):
        lexicons.load_lexicon("nrc")


def test_nrc_emolex_from_the_nrclex_package():
    pytest.importorskip("nrclex")
    lexicon = SensoryLexicon(lexicon="nrc-emolex", oov_embedder=None)
    assert lexicon.dims == lexicons.NRC_DIMS and lexicon.norms.value_range == (0.0, 1.0)
    found = lexicon.lookup("abandoned")
    assert found.source == "exact"
    assert {d for d, v in zip(lexicon.dims, found.vector) if v} == {"anger", "fear", "sadness", "negative"}
    assert SensoryLexicon(lexicon="nrc-emolex", dims="sentiment", oov_embedder=None).dims == ("negative", "positive")
    assert "Mohammad" in lexicon.norms.citation and "research" in lexicon.norms.citation


def test_nrc_emolex_without_nrclex_says_what_to_install(monkeypatch):
    def missing(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    lexicons.load_nrc_emolex.cache_clear()
    monkeypatch.setattr(lexicons.resources, "files", missing)
    try:
        with pytest.raises(OptionError, match=r'needs the nrclex package: pip install "sensoryt5\[nrc\]"'):
            lexicons.load_lexicon("nrc-emolex")
    finally:
        lexicons.load_nrc_emolex.cache_clear()


def test_oov_regressor_is_fitted_and_cached_per_lexicon(tmp_path, monkeypatch):
    monkeypatch.setitem(oov.EMBEDDERS, "toy", ToyEmbedder)
    monkeypatch.setattr(oov, "DEFAULT_CONFIG", SMALL_CONFIG)
    rng = np.random.default_rng(0)
    words = [f"w{i}x{chr(97 + i % 26)}" for i in range(400)]
    path = tmp_path / "mine.csv"
    path.write_text("word,a,b\n" + "".join(f"{w},{rng.uniform(-1, 1):.3f},{rng.uniform(0, 9):.3f}\n" for w in words),
                    encoding="utf-8")
    lexicon = SensoryLexicon(lexicon=path, oov_embedder="toy", cache_dir=tmp_path / "cache")
    vector = lexicon.lookup("unseenword")
    assert vector.source == "predicted" and vector.vector.shape == (2,)
    table = lexicon.norms
    cached = oov.cache_path("toy", tmp_path / "cache", table)
    assert cached.is_file() and table.sha256[:16] in cached.name
    assert cached != oov.cache_path("toy", tmp_path / "cache")  # not the Lancaster regressor's file
    regressor = oov.OOVRegressor.load(cached)
    assert regressor.norms_sha256 == table.sha256 and regressor.value_range == table.value_range
    prediction = regressor.predict(["zzz", "unseenword"])  # [2, 2], clipped to the table's range
    assert prediction.shape == (2, 2)
    assert (prediction >= table.values.min()).all() and (prediction <= table.values.max()).all()
    scores = oov.evaluate_heldout("toy", seed=0, progress=False, norms=table)
    assert set(scores) == {"a", "b", "mean"}


def test_saved_processor_keeps_the_oov_regressor_of_a_csv_lexicon(tmp_path, monkeypatch, minilm_tokenizer):
    from sensoryt5.alignment import SensoryProcessor

    monkeypatch.setitem(oov.EMBEDDERS, "toy", ToyEmbedder)
    monkeypatch.setattr(oov, "DEFAULT_CONFIG", SMALL_CONFIG)
    rng = np.random.default_rng(1)
    path = tmp_path / "mine.csv"
    path.write_text("word,a\n" + "".join(f"w{i}x{chr(97 + i % 26)},{rng.uniform(0, 9):.3f}\n" for i in range(300)),
                    encoding="utf-8")
    cache = tmp_path / "cache"
    processor = SensoryProcessor(minilm_tokenizer, SensoryLexicon(lexicon=path, oov_embedder="toy", cache_dir=cache))
    expected = processor.lexicon.lookup("unseenword")
    folder = tmp_path / "saved"
    processor.save_pretrained(folder)
    saved = oov.cache_path("toy", folder, processor.lexicon.norms)
    assert saved.is_file()
    path.unlink()
    for cached in cache.iterdir():  # another machine: nothing in the user cache
        cached.unlink()
    monkeypatch.setenv("SENSORYT5_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(oov.OOVRegressor, "fit", lambda *a, **k: pytest.fail("the saved regressor was not used"))
    reloaded = SensoryProcessor.from_pretrained(folder)
    looked_up = reloaded.lexicon.lookup("unseenword")
    assert looked_up.source == "predicted"
    np.testing.assert_array_equal(looked_up.vector, expected.vector)
    assert not (tmp_path / "empty-cache").exists()
    baseline = SensoryProcessor(minilm_tokenizer, SensoryLexicon(lexicon=tmp_path / "saved" / "sensory_lexicon.csv",
                                                                oov_embedder="toy", cache_dir=cache),
                                sensory_mode="none")
    baseline(["an unseenword here"])
    baseline.save_pretrained(tmp_path / "baseline")  # it never used its regressor: none is fitted to be saved
    assert not oov.cache_path("toy", tmp_path / "baseline", baseline.lexicon.norms).exists()


def test_a_lancaster_model_folder_holds_no_regressor_copy(tmp_path, minilm_tokenizer):
    from sensoryt5.alignment import SensoryProcessor

    SensoryProcessor(minilm_tokenizer, SensoryLexicon()).save_pretrained(tmp_path / "saved")
    assert not list((tmp_path / "saved").glob("oov-*.npz"))


def test_saved_processor_keeps_a_csv_lexicon(tmp_path, minilm_tokenizer, vad_csv):
    from sensoryt5.alignment import LEXICON_FILE, SensoryProcessor

    processor = SensoryProcessor(minilm_tokenizer, SensoryLexicon(lexicon=vad_csv, oov_embedder=None))
    folder = tmp_path / "saved"
    processor.save_pretrained(folder)
    settings = json.loads((folder / "sensory_processor.json").read_text(encoding="utf-8"))
    assert settings["lexicon"] == LEXICON_FILE and settings["lexicon_source"] == "vad.csv"
    vad_csv.unlink()  # the folder must not need the original file
    reloaded = SensoryProcessor.from_pretrained(folder)
    assert reloaded.lexicon.dims == ("valence", "arousal", "dominance")
    np.testing.assert_array_equal(reloaded("happy banana")["sensory"].numpy(),
                                  processor("happy banana")["sensory"].numpy())
    (folder / LEXICON_FILE).write_text("word,valence,arousal,dominance\nhappy,0,0,0\n", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not the lexicon the model was trained with"):
        SensoryProcessor.from_pretrained(folder)
    (folder / LEXICON_FILE).unlink()
    with pytest.raises(ModelLoadError, match="names the lexicon file sensory_lexicon.csv, which is not in"):
        SensoryProcessor.from_pretrained(folder)


def test_random_values_stay_in_the_lexicon_range(minilm_tokenizer, vad_csv):
    from sensoryt5.alignment import SensoryProcessor, random_vectors

    lancaster = random_vectors(["banana", "storm"], PERCEPTUAL, seed=3)
    assert lancaster.max() < 5.0 and lancaster.max() > 1.0
    processor = SensoryProcessor(minilm_tokenizer, SensoryLexicon(lexicon=vad_csv, oov_embedder=None),
                                 sensory_mode="random", seed=3)
    values = processor(["happy banana storm"] * 1)["sensory"].numpy()
    assert values.max() <= 0.96 and values.max() > 0


def test_train_predict_with_a_csv_lexicon_on_the_command_line(tmp_path, tiny_bert_folder, vad_csv):
    data = tmp_path / "feelings.csv"
    rows = [("so happy with my banana", "glad"), ("angry at the ice cream van", "mad")] * 20
    data.write_text("said,felt\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    model = tmp_path / "model"
    trained = sensoryt5("train", "--dataset", data, "--text-column", "said", "--label-column", "felt",
                        "--output", model, "--backbone", tiny_bert_folder, "--lexicon", vad_csv, "--fusion", "input",
                        "--oov", "none", "--epochs", "1", "--batch-size", "8", "--no-calibrate")
    assert trained.returncode == 0, trained.stderr
    assert "lexicon vad.csv" in trained.stdout or f"lexicon {vad_csv}" in trained.stdout
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    assert config["sensory_dims"] == ["valence", "arousal", "dominance"]
    assert config["lexicon_config"]["lexicon_source"] == "vad.csv"
    vad_csv.unlink()
    predicted = sensoryt5("predict", model, "happy banana", "--json")
    assert predicted.returncode == 0, predicted.stderr
    answer = json.loads(predicted.stdout)[0]
    assert {p["label"] for p in answer["predictions"]} == {"glad", "mad"} and answer["sensory_coverage"] == 1.0


def test_command_line_errors_for_a_bad_lexicon(tmp_path, vad_csv):
    error = one_error_line(sensoryt5("lexicon", "lookup", "happy", "--lexicon", tmp_path / "absent.csv"))
    assert "--lexicon" in error and "no such file" in error
    error = one_error_line(sensoryt5("lexicon", "lookup", "happy", "--lexicon", vad_csv, "--dims", "visual"))
    assert "unknown sensory dimension" in error and "valence" in error
    looked_up = sensoryt5("lexicon", "lookup", "happy", "--lexicon", vad_csv, "--oov", "none", "--json")
    assert looked_up.returncode == 0, looked_up.stderr
    assert json.loads(looked_up.stdout)[0]["valence"] == pytest.approx(0.96)


def test_reproduce_grid_runs_each_lexicon_beside_one_baseline(vad_csv):
    from sensoryt5.reproduce import ReproduceConfig, check_variants, variants

    config = ReproduceConfig(sensory_modes=["none", "norms", "random"], fusions=["input"],
                             lexicons=["lancaster", str(vad_csv)])
    found = variants(config)
    assert [v.key for v in found] == ["none", "input-norms", "input-random", "input-norms-vad", "input-random-vad"]
    assert {v.sensory_dims for v in found if v.lexicon != "lancaster"} == {"all"}  # every column of the CSV
    check_variants(config)
    with pytest.raises(OptionError, match="unknown sensory dimension"):
        check_variants(ReproduceConfig(sensory_modes=["norms"], sensory_dims=["action"], lexicons=[str(vad_csv)]))
    arousal = ReproduceConfig(sensory_modes=["norms"], fusions=["input"], sensory_dims=["arousal"],
                              lexicons=[str(vad_csv)])
    assert [v.key for v in variants(arousal)] == ["input-norms-vad-arousal"]
