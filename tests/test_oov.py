"""The OOV regressor: cache round-trip and corruption, clipping, shapes, odd input, laziness, held-out quality.

Most tests fit on a small stand-in embedder ("toy", registered per test) so that they take seconds; one slow test
scores the shipped MiniLM regressor on the held-out 10%.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sensoryt5 import oov
from sensoryt5.errors import ModelLoadError
from sensoryt5.norms import PERCEPTUAL, SENSORIMOTOR, load_norms

ODD_WORDS = ["", "   ", "🍌🍌", "香蕉", "банан", "x" * 100_000, "e\u0301clair", "a\nb\tc", "!!!"]
SMALL_CONFIG = oov.FitConfig(hidden=32, epochs=3, batch_size=256, knn_k=10)


class ToyEmbedder:
    """Hashed character trigrams: dense [n, 64] and unit keys [n, 32], no weights to load."""

    def embed(self, words, progress=False) -> oov.Features:
        dense = np.zeros((len(words), 64), dtype=np.float32)
        for row, word in enumerate(words):
            text = f"<{word[:200]}>"
            for i in range(len(text) - 2):
                digest = hashlib.blake2b(text[i:i + 3].encode("utf-8", "surrogatepass"), digest_size=2).digest()
                dense[row, int.from_bytes(digest, "little") % 64] += 1.0
        keys = dense[:, :32] + 1e-3
        return oov.Features(dense=dense, keys=keys / np.linalg.norm(keys, axis=1, keepdims=True))


@pytest.fixture
def toy(monkeypatch):
    """Register the toy embedder and a small fit configuration for one test."""
    monkeypatch.setitem(oov.EMBEDDERS, "toy", ToyEmbedder)
    monkeypatch.setattr(oov, "DEFAULT_CONFIG", SMALL_CONFIG)
    return "toy"


@pytest.fixture
def toy_regressor(toy) -> oov.OOVRegressor:
    """A toy regressor fitted on 2,000 training words."""
    norms = load_norms()
    train, _ = oov.heldout_split(0)
    rows = train[:2000]
    return oov.OOVRegressor.fit([norms.words[i] for i in rows], norms.values[rows], embedder=toy, progress=False)


@pytest.fixture
def small_split(monkeypatch):
    """Make `load_or_fit` fit on the first 3,000 words of the 90% split, to keep refit tests fast."""
    full = oov.heldout_split

    def first_3000(seed: int = 0, norms=None):
        train, held = full(seed, norms)
        return train[:3000], held

    monkeypatch.setattr(oov, "heldout_split", first_3000)


def test_heldout_split_is_fixed_disjoint_single_words():
    words = load_norms().words
    train, held = oov.heldout_split(0)
    n_single = sum(" " not in w for w in words)
    assert len(train) + len(held) == n_single == 36_811
    assert len(held) == 3_681
    assert not set(train) & set(held)
    assert all(" " not in words[i] for i in held)
    again_train, again_held = oov.heldout_split(0)
    assert np.array_equal(held, again_held) and np.array_equal(train, again_train)
    assert not np.array_equal(held, oov.heldout_split(1)[1])


def test_unknown_embedder_lists_choices(tmp_path):
    for call in (lambda: oov.make_embedder("word2vec"),
                 lambda: oov.OOVRegressor.load_or_fit("word2vec", cache_dir=tmp_path),
                 lambda: oov.evaluate_heldout("word2vec")):
        with pytest.raises(ValueError, match=r"unknown OOV embedder 'word2vec'; choose from minilm, minilm\+glove"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_predict_shapes_dtype_range(toy_regressor):
    words = ["banana", "thunder", "velvet", "zzyzx"]
    pred = toy_regressor.predict(words)
    assert pred.shape == (4, len(SENSORIMOTOR)) and pred.dtype == np.float32
    assert np.all((pred >= 0) & (pred <= 5))
    assert pred.std(0).max() > 0.01  # different words, different predictions
    empty = toy_regressor.predict([])
    assert empty.shape == (0, 11) and empty.dtype == np.float32


def test_predictions_are_clipped_to_0_5(toy_regressor):
    head = toy_regressor.head
    toy_regressor.config = dataclasses.replace(toy_regressor.config, mlp_weight=1.0)
    toy_regressor.head = dataclasses.replace(head, b2=np.where(np.arange(11) % 2 == 0, 1e3, -1e3).astype(np.float32))
    pred = toy_regressor.predict(["banana", "thunder"])
    assert np.all(pred[:, 0::2] == 5.0) and np.all(pred[:, 1::2] == 0.0)


def test_odd_inputs_give_one_finite_row_each(toy_regressor):
    pred = toy_regressor.predict(ODD_WORDS)
    assert pred.shape == (len(ODD_WORDS), 11)
    assert np.isfinite(pred).all() and pred.min() >= 0 and pred.max() <= 5


def test_save_load_round_trip_is_exact(toy_regressor, tmp_path):
    path = tmp_path / "sub" / "oov.npz"
    toy_regressor.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["oov.npz"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as data:  # plain arrays only: no pickle needed
        assert all(data[name].dtype != object for name in data.files)
    loaded = oov.OOVRegressor.load(path)
    words = ["banana", "thunder", "velvet", "", "香蕉"]
    assert np.array_equal(loaded.predict(words), toy_regressor.predict(words))
    assert loaded.config == toy_regressor.config and loaded.embedder == "toy"
    assert loaded.knn_keys.dtype == np.float16 and loaded.knn_values.shape == (2000, 11)


def test_load_or_fit_uses_a_valid_cache_without_fitting(toy, tmp_path, monkeypatch):
    first = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path, progress=False)
    path = oov.cache_path(toy, tmp_path)
    assert path.exists() and load_norms().sha256[:16] in path.name and oov.MODEL_VERSION in path.name
    assert len(first.knn_keys) == len(oov.heldout_split(0)[0])  # fitted on the whole 90% split

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted although the cache was valid")

    monkeypatch.setattr(oov.OOVRegressor, "fit", no_fit)
    second = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path, progress=False)
    assert np.array_equal(second.predict(["banana", "glimmer"]), first.predict(["banana", "glimmer"]))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "stale_version"])
def test_corrupted_cache_is_refitted_with_a_warning(toy, small_split, tmp_path, damage):
    path = oov.cache_path(toy, tmp_path)
    fitted = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path, progress=False)
    expected = fitted.predict(["banana", "thunder"])
    raw = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not an npz at all" * 100)
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        arrays["model_version"] = np.array("mlp-knn-0")
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    with pytest.raises(ModelLoadError):
        oov.OOVRegressor.load(path)
    with pytest.warns(RuntimeWarning, match="ignoring it"):
        refitted = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path, progress=False)
    assert np.array_equal(refitted.predict(["banana", "thunder"]), expected)  # seeded fit: same model again
    assert oov.OOVRegressor.load(path).knn_values.shape == fitted.knn_values.shape  # the cache was rewritten


def test_load_order_is_user_cache_then_shipped_then_fit(toy, small_split, tmp_path, monkeypatch):
    shipped = tmp_path / "package" / "oov-toy.npz"
    monkeypatch.setattr(oov, "bundled_path", lambda embedder: shipped)
    fitted = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path / "first", progress=False)  # neither: fit
    fitted.knn_values = fitted.knn_values * 0 + 1.0
    fitted.save(shipped)

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted although a shipped regressor was there")

    monkeypatch.setattr(oov.OOVRegressor, "fit", no_fit)
    fresh = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path / "empty", progress=False)
    assert np.array_equal(fresh.knn_values, fitted.knn_values)  # the shipped file
    assert not (tmp_path / "empty").exists()  # loading the shipped file writes no cache
    user = oov.OOVRegressor.load(shipped)
    user.knn_values = user.knn_values * 0 + 2.0
    user.save(oov.cache_path(toy, tmp_path / "user"))
    assert np.all(oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path / "user").knn_values == 2.0)


def test_shipped_regressor_for_other_norms_is_skipped(toy, small_split, tmp_path, monkeypatch):
    shipped = tmp_path / "oov-toy.npz"
    monkeypatch.setattr(oov, "bundled_path", lambda embedder: shipped)
    stale = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path / "first", progress=False)
    stale.norms_sha256 = "0" * 64
    stale.save(shipped)
    refitted = oov.OOVRegressor.load_or_fit(toy, cache_dir=tmp_path / "second", progress=False)
    assert refitted.norms_sha256 == load_norms().sha256
    assert oov.cache_path(toy, tmp_path / "second").exists()


def test_minilm_regressor_ships_with_the_package(tmp_path, monkeypatch):
    """A fresh cache loads the shipped file (no fit, no torch), fitted for these norms on the 90% split."""
    path = oov.bundled_path("minilm")
    assert path.parent.name == "oov" and path.stat().st_size < 35 * 2 ** 20
    assert (path.parent / "SOURCE.md").exists()
    code = ("import sys; from sensoryt5.oov import OOVRegressor; r = OOVRegressor.load_or_fit('minilm', "
            "cache_dir=sys.argv[1], progress=False); "
            "print(r.embedder, len(r.knn_keys), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "cache")], check=True, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.split() == ["minilm", str(len(oov.heldout_split(0)[0])), "False"]
    assert not (tmp_path / "cache").exists()
    shipped = oov.OOVRegressor.load(path)
    assert shipped.norms_sha256 == load_norms().sha256 and shipped.config == oov.DEFAULT_CONFIG


def test_load_rejects_inconsistent_arrays(toy_regressor, tmp_path):
    path = tmp_path / "oov.npz"
    toy_regressor.head = dataclasses.replace(toy_regressor.head, w2=np.zeros((5, 11), dtype=np.float32))
    toy_regressor.save(path)
    with pytest.raises(ModelLoadError, match="inconsistent"):
        oov.OOVRegressor.load(path)
    assert zipfile.is_zipfile(path)


def test_cache_dir_defaults_to_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SENSORYT5_CACHE", str(tmp_path))
    assert oov.cache_path("minilm+glove").parent == tmp_path
    assert oov.cache_path("minilm+glove").name.startswith(f"oov-minilm_glove-{oov.MODEL_VERSION}-")
    monkeypatch.delenv("SENSORYT5_CACHE")
    assert oov.default_cache_dir() == Path.home() / ".cache" / "sensoryt5"


def test_loading_imports_neither_torch_nor_transformers(toy_regressor, tmp_path):
    path = tmp_path / "oov.npz"
    toy_regressor.save(path)
    code = ("import sys; from sensoryt5.oov import OOVRegressor; r = OOVRegressor.load(sys.argv[1]); "
            "print(r.embedder, len(r.knn_keys), 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.split() == ["toy", "2000", "False", "False"]


def test_knn_predict_weights_neighbours():
    keys = np.eye(3, dtype=np.float32)
    values = np.array([[1.0] * 11, [3.0] * 11, [5.0] * 11], dtype=np.float32)
    query = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]], dtype=np.float32)
    sharp = oov.knn_predict(query, keys.astype(np.float16), values, k=2, temperature=100.0)
    assert np.allclose(sharp[0], 1.0, atol=1e-6) and np.allclose(sharp[1], 3.0, atol=1e-6)
    flat = oov.knn_predict(query, keys, values, k=3, temperature=0.0)
    assert np.allclose(flat, 3.0)


def test_fit_mlp_learns_a_smooth_function():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 20)).astype(np.float32)
    y = np.stack([np.tanh(x[:, i]) + 0.5 * x[:, i + 1] for i in range(11)], axis=1).astype(np.float32) + 2.5
    config = oov.FitConfig(hidden=64, epochs=20, learning_rate=3e-2, batch_size=256, input_dropout=0.0, dropout=0.0)
    head = oov.fit_mlp(x[:2500], y[:2500], config)
    assert oov.pearson_per_column(head.predict(x[2500:]), y[2500:]).min() > 0.9


def test_minilm_embedder_features_on_odd_input():
    embedder = oov.MiniLMEmbedder()
    features = embedder.embed(ODD_WORDS + ["banana"])
    assert features.dense.shape == (len(ODD_WORDS) + 1, 7 * 384) and features.keys.shape == (len(ODD_WORDS) + 1, 384)
    assert np.isfinite(features.dense).all()
    assert np.allclose(np.linalg.norm(features.keys, axis=1), 1.0, atol=1e-5)
    templated = oov.MiniLMEmbedder("a {}").embed(["banana"])
    first_layer = slice(0, 384)  # input embeddings of the word's own sub-tokens: only the position ids differ
    assert np.corrcoef(templated.dense[0, first_layer], features.dense[-1, first_layer])[0, 1] > 0.9
    assert not np.allclose(templated.dense[0], features.dense[-1])
    with pytest.raises(ValueError, match="exactly once"):
        oov.MiniLMEmbedder("no placeholder")


@pytest.mark.slow
def test_default_regressor_reaches_target():
    """The one test on the real default regressor: the shipped one, scored on the held-out 10%."""
    scores = oov.evaluate_heldout("minilm", seed=0, progress=False)
    assert set(scores) == set(SENSORIMOTOR) | {"mean"}
    assert scores["mean"] == pytest.approx(np.mean([scores[d] for d in PERCEPTUAL]))
    assert scores["mean"] == pytest.approx(0.7483, abs=0.002)  # as in resources/oov/SOURCE.md and BENCHMARKS
    assert min(scores[d] for d in SENSORIMOTOR) > 0.5
    regressor = oov.OOVRegressor.load(oov.bundled_path("minilm"))
    food, sound, smell = regressor.predict(["blueberries", "drumbeats", "perfumery"])  # none is a norms entry
    gustatory, auditory = SENSORIMOTOR.index("gustatory"), SENSORIMOTOR.index("auditory")
    assert food[gustatory] > food[auditory] + 1.5 and sound[auditory] > sound[gustatory] + 1.5
    assert SENSORIMOTOR[int(np.argmax(smell[:6]))] == "olfactory"
    odd = regressor.predict(ODD_WORDS)
    assert odd.shape == (len(ODD_WORDS), 11) and np.isfinite(odd).all() and odd.min() >= 0 and odd.max() <= 5
