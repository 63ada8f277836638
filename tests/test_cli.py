"""The `sensoryt5` command line: lexicon commands, help, and the one-line error contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sensoryt5.norms import PERCEPTUAL, SENSORIMOTOR


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_help_lists_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "reproduce", "predict", "explain", "serve", "export", "push", "lexicon",
                    "data", "compare"):
        assert command in result.stdout


def test_lexicon_lookup_json():
    result = _cli("lexicon", "lookup", "Banana", "ice cream", "sniffed", "xyzzyplugh", "--json", "--oov", "none")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["word"] for r in rows] == ["Banana", "ice cream", "sniffed", "xyzzyplugh"]
    assert [r["source"] for r in rows] == ["exact", "multiword", "lemma", "missing"]
    assert rows[0]["gustatory"] == pytest.approx(4.474) and rows[2]["entry"] == "sniff"
    assert all(set(PERCEPTUAL) <= set(r) for r in rows)


def test_lexicon_lookup_predicts_unknown_words_with_the_default_regressor():
    result = _cli("lexicon", "lookup", "perfumery", "drumroll", "--json", "--dims", "sensorimotor")
    assert result.returncode == 0, result.stderr
    smell, sound = json.loads(result.stdout)
    assert smell["source"] == sound["source"] == "predicted" and set(SENSORIMOTOR) <= set(smell)
    assert smell["olfactory"] > smell["auditory"] and sound["auditory"] > sound["olfactory"]
    assert "Loading weights" not in result.stderr


def test_lexicon_lookup_table_and_dimension_subset():
    result = _cli("lexicon", "lookup", "perfume", "--dims", "olfactory,visual", "--oov", "none")
    assert result.returncode == 0
    assert "perfume" in result.stdout and "olfactory" in result.stdout and "auditory" not in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("lexicon", "lookup", "banana", "--dims", "smell"), "unknown sensory dimension"),
    (("lexicon", "lookup", "  "), "empty or whitespace-only word"),
    (("lexicon", "fit-oov", "--embedder", "word2vec"), "word2vec"),
])
def test_bad_lexicon_input_is_one_line_exit_2(args, message):
    result = _cli(*args, "--oov", "none") if args[1] == "lookup" else _cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fit_oov_json_reports_every_dimension_and_the_mean(monkeypatch):
    from typer.testing import CliRunner

    from sensoryt5 import oov
    from sensoryt5.cli import _register, app

    calls = {}

    def fake_evaluate(embedder, seed, progress, refit, norms):
        calls.update(embedder=embedder, seed=seed, refit=refit)
        return {**{d: 0.7 for d in SENSORIMOTOR}, "mean": 0.7}

    monkeypatch.setattr(oov, "evaluate_heldout", fake_evaluate)
    _register()
    result = CliRunner().invoke(app, ["lexicon", "fit-oov", "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert set(scores) == set(SENSORIMOTOR) | {"mean"}
    assert calls == {"embedder": "minilm", "seed": 0, "refit": True}


def test_fit_oov_write_bundled_copies_the_refit_into_the_package(monkeypatch, tmp_path):
    import numpy as np
    from typer.testing import CliRunner

    from sensoryt5 import oov
    from sensoryt5.cli import _register, app
    from sensoryt5.errors import SensoryT5Error
    from sensoryt5.norms import load_norms

    shipped = tmp_path / "package" / "oov-minilm.npz"
    monkeypatch.setenv("SENSORYT5_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(oov, "bundled_path", lambda embedder: shipped)
    rng = np.random.default_rng(0)
    head = oov.MLPHead(mean=np.zeros(4, np.float32), scale=np.ones(4, np.float32), w1=np.zeros((4, 3), np.float32),
                       b1=np.zeros(3, np.float32), w2=np.zeros((3, 11), np.float32), b2=np.zeros(11, np.float32))
    fitted = oov.OOVRegressor("minilm", head, rng.normal(size=(5, 4)).astype(np.float16),
                             rng.uniform(0, 5, (5, 11)).astype(np.float32), oov.DEFAULT_CONFIG, load_norms().sha256)

    def fake_evaluate(embedder, seed, progress, refit, norms):
        fitted.save(oov.cache_path(embedder))  # what the real refit leaves in the user cache
        return {**{d: 0.7 for d in SENSORIMOTOR}, "mean": 0.7}

    monkeypatch.setattr(oov, "evaluate_heldout", fake_evaluate)
    _register()
    refused = CliRunner().invoke(app, ["lexicon", "fit-oov", "--write-bundled", "--seed", "1"])
    assert isinstance(refused.exception, SensoryT5Error)  # main() prints it as one line, exit code 2
    assert "--write-bundled needs --seed 0" in str(refused.exception)
    assert not shipped.exists()
    result = CliRunner().invoke(app, ["lexicon", "fit-oov", "--write-bundled", "--json"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(oov.OOVRegressor.load(shipped).knn_values, fitted.knn_values)
