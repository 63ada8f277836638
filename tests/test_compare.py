"""Comparing models: bootstrap intervals of `evaluate`, a user file evaluated whole, and `sensoryt5 compare`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TOY_PHRASES

from sensoryt5.metrics import accuracy_of, bootstrap_interval, macro_f1_of, per_label_f1

SRC = Path(__file__).resolve().parents[1] / "src"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def _gold_and_predicted(predictions_file: str, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in Path(predictions_file).read_text(encoding="utf-8").splitlines()]
    index = {name: i for i, name in enumerate(labels)}
    return (np.array([index[row["gold"]] for row in rows]), np.array([index[row["predicted"]] for row in rows]))


def test_bootstrap_interval_brackets_the_score_and_follows_the_seed():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.7, gold, rng.integers(0, 3, 200))
    interval = bootstrap_interval(gold, pred, accuracy_of, n_resamples=500, seed=3)
    assert interval["low"] < accuracy_of(gold, pred) < interval["high"]
    assert interval == bootstrap_interval(gold, pred, accuracy_of, n_resamples=500, seed=3)
    assert interval != bootstrap_interval(gold, pred, accuracy_of, n_resamples=500, seed=4)
    assert bootstrap_interval(gold, gold, macro_f1_of, n_resamples=50) == {"low": 1.0, "high": 1.0}


def test_multi_label_macro_and_per_label_f1_equal_scikit_learns_with_labels_nobody_has():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(2)
    gold, pred = (rng.random((300, 12)) < 0.1).astype(int), (rng.random((300, 12)) < 0.1).astype(int)
    gold[:, 4] = pred[:, 4] = 0  # neither gold nor predicted: counts as 0, as scikit-learn's zero_division=0
    pred[:, 7] = 0
    assert macro_f1_of(gold, pred) == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0), abs=1e-12)
    assert macro_f1_of(gold, gold) == pytest.approx(11 / 12)
    np.testing.assert_allclose(per_label_f1(gold, pred), f1_score(gold, pred, average=None, zero_division=0),
                               atol=1e-12)


def test_evaluate_records_seeded_intervals_of_accuracy_and_macro_f1(model_dir, clf, tmp_path):
    from sensoryt5.evaluation import evaluate

    report = evaluate(model_dir, str(model_dir.parent / "toy.jsonl"), "test", output_dir=tmp_path, classifier=clf,
                      n_resamples=300, seed=5)
    gold, pred = _gold_and_predicted(report["predictions_file"], clf.labels)
    assert report["ci"]["accuracy"] == bootstrap_interval(gold, pred, accuracy_of, 300, 5)
    assert report["ci"]["macro_f1"] == bootstrap_interval(gold, pred, macro_f1_of, 300, 5)
    assert report["ci"]["level"] == 0.95 and report["ci"]["seed"] == 5
    for key in ("accuracy", "macro_f1"):
        assert report["ci"][key]["low"] <= report[key] <= report["ci"][key]["high"]
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))["ci"] == report["ci"]


def _toy_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(2)
    labels = list(TOY_PHRASES)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "comment", "feeling"])
        for i in range(n):
            label = labels[i % len(labels)]
            writer.writerow([i, f"{rng.choice(TOY_PHRASES[label])} today", label])
    return path


def test_evaluate_uses_a_single_user_file_whole(model_dir, tmp_path):
    data = _toy_csv(tmp_path / "mine.csv", 40)
    result = _cli("evaluate", str(model_dir), "--dataset", str(data), "--text-column", "comment",
                  "--label-column", "feeling", "--output", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n"] == 40 and metrics["split"] == "all"
    n_row = next(line for line in result.stdout.splitlines() if line.strip("│┃ ").startswith("n "))
    assert n_row.split("│")[2].strip() == "40"
    accuracy_row = next(line for line in result.stdout.splitlines() if "accuracy" in line)
    ci = metrics["ci"]["accuracy"]
    assert f"[{ci['low']:.4f}, {ci['high']:.4f}]" in accuracy_row


def test_naming_a_split_of_a_single_file_takes_that_split(model_dir, clf, tmp_path):
    from sensoryt5.evaluation import evaluate

    data = _toy_csv(tmp_path / "mine.csv", 40)
    report = evaluate(model_dir, str(data), "test", output_dir=tmp_path / "eval", classifier=clf,
                      data_options={"text_column": "comment", "label_column": "feeling"}, n_resamples=10)
    assert report["split"] == "test" and report["n"] < 40


@pytest.fixture(scope="module")
def model_b(model_dir, tiny_bert_folder, tmp_path_factory) -> Path:
    """A second toy model on the same labels: one epoch from another seed, so weaker than `model_dir`."""
    from sensoryt5.training import TrainingConfig, train

    output = tmp_path_factory.mktemp("model_b") / "model"
    train(TrainingConfig(dataset=str(model_dir.parent / "toy.jsonl"), output=str(output),
                         backbone=str(tiny_bert_folder), oov_embedder=None, epochs=1, learning_rate=1e-3, batch_size=16,
                         max_length=32, early_stopping_patience=None, seed=1))
    return output


def test_compare_prints_the_paired_bootstrap_of_metrics_py(model_dir, model_b, tmp_path):
    from sensoryt5.evaluation import evaluate
    from sensoryt5.metrics import paired_bootstrap

    data = str(model_dir.parent / "toy.jsonl")
    result = _cli("compare", str(model_dir), str(model_b), "--dataset", data, "--split", "test", "--json")
    assert result.returncode == 0, result.stderr
    compared = json.loads(result.stdout)
    report_a = evaluate(model_dir, data, "test", output_dir=tmp_path / "a", n_resamples=10)
    report_b = evaluate(model_b, data, "test", output_dir=tmp_path / "b", n_resamples=10)
    labels = [row["label"] for row in report_a["per_class"]]
    gold, pred_a = _gold_and_predicted(report_a["predictions_file"], labels)
    _, pred_b = _gold_and_predicted(report_b["predictions_file"], labels)
    assert compared["n"] == len(gold) == report_a["n"] and compared["split"] == "test"
    for name, metric in (("macro_f1", macro_f1_of), ("accuracy", accuracy_of)):
        expected = paired_bootstrap(gold, [pred_b], [pred_a], metric, n_resamples=1000, seed=0)
        row = compared["metrics"][name]
        assert row["a"] == pytest.approx(report_a[name]) and row["b"] == pytest.approx(report_b[name])
        assert row["difference"] == pytest.approx(report_b[name] - report_a[name])
        assert (row["ci_low"], row["ci_high"]) == (expected["ci_low"], expected["ci_high"])
        assert row["p_b_not_better"] == expected["p_a_not_better"]

    table = _cli("compare", str(model_dir), str(model_b), "--dataset", data, "--split", "test")
    assert table.returncode == 0, table.stderr
    macro_row = next(line for line in table.stdout.splitlines() if "macro_f1" in line)
    row = compared["metrics"]["macro_f1"]
    assert f"{row['difference']:+.4f}" in macro_row and f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]" in macro_row


def test_compare_refuses_models_with_different_labels(model_dir, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(model_dir, other)
    config = json.loads((other / "config.json").read_text(encoding="utf-8"))
    config["id2label"]["0"] = "anger"
    config["label2id"] = {name: int(i) for i, name in config["id2label"].items()}
    (other / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = _cli("compare", str(model_dir), str(other), "--dataset", str(model_dir.parent / "toy.jsonl"))
    assert result.returncode == 2
    assert "different labels" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
