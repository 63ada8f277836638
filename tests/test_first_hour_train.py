"""`sensoryt5 train` through the command line, as a first-hour user runs it: what it says before and after training."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
TOY_PHRASES = {"joy": ["sweet honey cake", "bright warm sunshine", "happy music party"],
               "fear": ["loud thunder noise", "dark scary shadow", "cold sharp knife"],
               "disgust": ["rotten smelly garbage", "sour stinking milk", "slimy greasy mould"]}


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def _toy_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    labels = list(TOY_PHRASES)
    return [(f"{rng.choice(TOY_PHRASES[labels[i % 3]])} {rng.choice(['today', 'again', 'there'])}", labels[i % 3])
            for i in range(n)]


def _train(backbone: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "sensoryt5", "train", "--backbone", str(backbone), "--oov", "none",
               "--max-length", "32", "--batch-size", "16", "--patience", "0", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def single_file_run(tmp_path_factory, tiny_bert_folder):
    """One toy CSV of 300 rows trained for 2 epochs (tiny BERT); the finished process and its folder."""
    folder = tmp_path_factory.mktemp("first_hour")
    _write_csv(folder / "toy.csv", _toy_rows(300))
    result = _train(tiny_bert_folder, folder, "--dataset", "toy.csv", "--output", "model", "--epochs", "2",
                    "--lr", "5e-3", "--no-calibrate")  # the toy is right on every dev text: see test_calibration
    assert result.returncode == 0, result.stderr[-3000:]
    return result, folder


def test_banner_says_a_single_file_was_split_with_the_counts(single_file_run):
    result, folder = single_file_run
    metrics = json.loads((folder / "model" / "train_metrics.json").read_text(encoding="utf-8"))
    dev, train = metrics["dev_examples"], metrics["train_examples"]
    test = 300 - dev - train
    assert f"one file given (toy.csv): split 80/10/10 into {train}/{dev}/{test}, seeded" in result.stdout
    assert train + dev + test == 300 and 0 < dev < train
    assert f"backbone: {result.args[result.args.index('--backbone') + 1]}" in result.stdout
    assert "sensory: norms, fusion paper, lexicon lancaster, 6 dims" in result.stdout
    assert "no OOV regressor" in result.stdout
    assert "labels: 3 (single-label): disgust, fear, joy" in result.stdout
    assert result.stdout.index("Training SensoryT5 into model") < result.stdout.index("Saved the model to model")


def test_summary_gives_folder_dev_scores_and_the_next_commands(single_file_run):
    result, folder = single_file_run
    metrics = json.loads((folder / "model" / "train_metrics.json").read_text(encoding="utf-8"))
    summary = result.stdout[result.stdout.index("Saved the model to model"):]
    assert f"dev macro-F1 {metrics['dev']['macro_f1']:.4f}" in summary
    for command in ("sensoryt5 evaluate model --dataset toy.csv --split test", "sensoryt5 predict model ",
                    "sensoryt5 explain model ", "sensoryt5 serve model"):
        assert command in summary


def test_banner_names_each_given_split_file_and_a_carved_test_split(tmp_path, tiny_bert_folder):
    rows = _toy_rows(240, seed=1)
    _write_csv(tmp_path / "train.csv", rows[:200])
    _write_csv(tmp_path / "dev.csv", rows[200:])
    result = _train(tiny_bert_folder, tmp_path, "--dataset", str(tmp_path), "--output", "model", "--epochs", "1",
                    "--max-train-samples", "90", "--label-separator", ";")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "model" / "train_metrics.json").read_text(encoding="utf-8"))
    assert metrics["dev_examples"] == 40
    assert f"validation 40 from {tmp_path / 'dev.csv'}" in result.stdout
    assert "carved out of the train file (10% per label, split seed 0)" in result.stdout
    assert "training on 90 of the" in result.stdout
    assert "labels: 3 (multi-label, separator ';'): disgust, fear, joy" in result.stdout
    assert "per-label thresholds tuned on dev" in result.stdout
    assert metrics["thresholds_tuned_on"] == "validation"
    assert f"dev macro-F1 at threshold 0.5: {metrics['dev_macro_f1_at_0.5']:.4f}" in result.stdout
    config = json.loads((tmp_path / "model" / "config.json").read_text(encoding="utf-8"))
    assert len(config["class_weights"]) == 3  # multi-label data get pos_weight by default
    assert metrics["learning_rate"] == 3e-4 and "learning rate 0.0003" in result.stdout  # the multi-label default


def test_a_model_that_learned_something_gets_no_warning(single_file_run):
    result, folder = single_file_run
    metrics = json.loads((folder / "model" / "train_metrics.json").read_text(encoding="utf-8"))
    assert metrics["dev"]["macro_f1"] > 0.9  # the toy phrases are easy: the model must have learned them
    assert metrics["warnings"] == [] and "Warning:" not in result.stdout
    assert "thresholds_tuned_on" not in metrics  # single-label: argmax, no thresholds
    config = json.loads((folder / "model" / "config.json").read_text(encoding="utf-8"))
    assert config.get("class_weights") is None  # single-label data get no class weights unless asked
    assert metrics["learning_rate"] == 5e-3  # as given with --lr


@pytest.mark.parametrize("separator", [None, ";"])
def test_constant_dev_predictions_are_warned_about(tmp_path, tiny_bert_folder, separator):
    # Every row has the same text, so every dev text necessarily gets the same prediction.
    labels = ["joy", "fear", "joy;fear"] if separator else ["joy", "fear", "joy"]
    _write_csv(tmp_path / "same.csv", [("the same words every time", labels[i % 3]) for i in range(60)])
    extra = ["--label-separator", separator] if separator else []
    result = _train(tiny_bert_folder, tmp_path, "--dataset", "same.csv", "--output", "model", "--epochs", "1", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "model" / "train_metrics.json").read_text(encoding="utf-8"))
    assert metrics["learning_rate"] == (3e-4 if separator else 1e-4)  # the defaults: multi-label, the paper's
    assert len(metrics["warnings"]) >= 1
    assert metrics["warnings"][0].startswith("every dev text gets ")
    assert "likely cause: too few training steps" in metrics["warnings"][0]
    assert f"Warning: {metrics['warnings'][0]}" in result.stdout


def test_quick_reproduce_keeps_the_sensoryt5_model_and_says_how_to_try_it(tmp_path, tiny_bert_folder):
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "sensoryt5", "reproduce", "--quick", "--backbone", str(tiny_bert_folder),
               "--sensory", "none,norms", "--max-train-samples", "48", "--batch-size", "16", "--output", "results"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    kept = Path("results/quick/runs/isear/paper-norms/seed1/model")
    assert (tmp_path / kept / "config.json").is_file() and (tmp_path / kept / "model.safetensors").is_file()
    assert not (tmp_path / "results/quick/runs/isear/none/seed1/model").exists()  # only the SensoryT5 run is kept
    assert f"Kept the SensoryT5 model in {kept}; try it:" in result.stdout
    for line in (f"sensoryt5 evaluate {kept} --dataset isear --split test", f"sensoryt5 predict {kept} ",
                 f"sensoryt5 explain {kept} ", f"sensoryt5 serve {kept}"):
        assert line in result.stdout
    shutil.rmtree(tmp_path / kept)  # a kept model that went missing is trained again; the other run is not
    again = subprocess.run(result.args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 of 2 runs already finished; 1 to run" in again.stdout
    assert (tmp_path / kept / "config.json").is_file()


def test_thresholds_mostly_at_the_floor_are_warned_about_even_when_predictions_vary():
    import numpy as np

    from sensoryt5.train_report import constant_prediction_warnings

    predicted = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1]])  # [N=3, C=4], not constant
    labels = ["a", "b", "c", "d"]
    warnings = constant_prediction_warnings(predicted, labels, True, [0.05, 0.05, 0.05, 0.4])
    assert warnings == [warnings[0]] and warnings[0].startswith("3 of 4 thresholds tuned on dev sit at their floor")
    assert constant_prediction_warnings(predicted, labels, True, [0.05, 0.3, 0.05, 0.4]) == []
    assert constant_prediction_warnings(np.array([0, 2, 2]), labels, False, None) == []
    assert "the same label 'c'" in constant_prediction_warnings(np.array([2, 2, 2]), labels, False, None)[0]
