"""experiments/coverage_vs_gain.py on runs and profiles written here: the per-emotion gain and the correlations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.coverage_vs_gain import DATASETS, analyse, centred, correlations, emotion_rows, per_emotion_f1


def test_per_emotion_f1_and_centring():
    run = {"test_gold": [0, 0, 1, 1], "test_pred": [0, 0, 1, 0], "labels": ["a", "b"]}
    assert per_emotion_f1(run) == pytest.approx({"a": 0.8, "b": 2 / 3})
    values, sets = np.array([1.0, 3.0, 10.0, 20.0]), np.array(["x", "x", "y", "y"])
    assert centred(values, sets).tolist() == [-1.0, 1.0, -5.0, 5.0]


def test_correlations_of_a_monotone_relation():
    x = np.linspace(0, 1, 30)
    result = correlations(x, x ** 3, n_resamples=200, seed=0)
    assert result["spearman"]["r"] == pytest.approx(1.0)
    assert 0.8 < result["pearson"]["r"] < 1.0
    assert result["pearson"]["low"] > 0


def write_runs(root: Path, dataset: str, labels: list[str], preds: dict[str, list[int]], gold: list[int]) -> None:
    for variant, pred in preds.items():
        folder = root / "runs" / dataset / variant / "seed1"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(
            {"seed": 1, "labels": labels, "test_gold": gold, "test_pred": pred}), encoding="utf-8")
    profile = {"emotions": [{"label": label, "texts": 10, "shares": {
        "covered": {"value": 0.9 + 0.01 * i}, "found": {"value": 0.8 + 0.02 * i}}} for i, label in enumerate(labels)]}
    (root / "profile" / dataset).mkdir(parents=True)
    (root / "profile" / dataset / "profile.json").write_text(json.dumps(profile), encoding="utf-8")


def test_emotion_rows_take_the_gain_over_shared_seeds(tmp_path):
    labels, gold = ["a", "b", "c"], [0, 0, 1, 1, 2, 2]
    for dataset in DATASETS:
        write_runs(tmp_path, dataset, labels, {"none": [0, 1, 1, 0, 2, 0], "input-norms": [0, 0, 1, 1, 2, 0]}, gold)
    rows = emotion_rows(tmp_path / "runs", tmp_path / "profile")
    assert len(rows) == len(DATASETS) * len(labels)
    first = {r["emotion"]: r for r in rows if r["dataset"] == DATASETS[0]}
    assert first["a"]["delta_f1"] == pytest.approx(0.8 - 0.4)  # a: P 2/3 R 1 with the norms, P 1/3 R 1/2 without
    assert first["a"]["test_support"] == 2 and first["c"]["found"] == pytest.approx(0.84)
    results = analyse(rows, n_resamples=50, seed=0)
    assert results["pooled"]["n"] == len(rows) and set(results["pooled"]) == {"n", "covered", "found"}
