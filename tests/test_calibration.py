"""Calibrated scores: temperature scaling recovers a known temperature, ECE and Brier behave, `train` fits the
temperature on dev, every entry point applies it, `evaluate` reports before/after, `calibrate` fits a saved model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sensoryt5.calibration import (
    brier_score,
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
)


def _sampled(temperature: float, n: int = 6000, classes: int = 5, seed: int = 0):
    """Logits [n, C] and labels drawn from softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, classes))
    probabilities = softmax(logits / temperature)
    labels = np.array([rng.choice(classes, p=row) for row in probabilities])
    return logits, labels


def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_with():
    logits, labels = _sampled(2.0)
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(2.0, rel=0.1)
    assert negative_log_likelihood(logits, labels, temperature) < negative_log_likelihood(logits, labels)


def test_ece_is_small_when_calibrated_and_large_when_overconfident():
    logits, labels = _sampled(1.0)
    calibrated = expected_calibration_error(softmax(logits), labels)
    overconfident = expected_calibration_error(softmax(logits * 3), labels)
    assert calibrated < 0.03 < 0.1 < overconfident
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7]])
    assert brier_score(probabilities, np.array([0, 0])) == pytest.approx(((0.1 ** 2 * 2) + (0.7 ** 2 * 2)) / 2)
    report = calibration_report(softmax(logits * 3 / 3.0), labels, 3.0)  # a model calibrated by T = 3
    assert report["ece_after"] < report["ece_before"] and report["brier_after"] < report["brier_before"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, model_dir):
    """A copy of the uncalibrated toy model, calibrated with `sensoryt5 calibrate`."""
    from test_inference import _cli

    folder = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(model_dir, folder)
    result = _cli("calibrate", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    return folder, json.loads(result.stdout)


def test_calibrate_writes_the_temperature_and_every_score_uses_it(calibrated, model_dir):
    from transformers import pipeline

    from sensoryt5.classifier import SensoryClassifier

    folder, fit = calibrated
    config = json.loads((folder / "config.json").read_text())
    assert config["temperature"] == pytest.approx(fit["temperature"]) and fit["temperature"] != 1.0
    assert fit["dev_nll_after"] <= fit["dev_nll_before"]
    # the toy model is right on every dev text, so the fit sharpens as far as it may, and says so
    assert fit["temperature"] == pytest.approx(0.05, rel=1e-2) and fit["at_search_bound"] is True
    assert json.loads((folder / "train_metrics.json").read_text())["calibration"] == fit
    texts = ["sweet honey cake", "loud thunder noise there", "sour stinking milk"]
    raw = SensoryClassifier.from_pretrained(model_dir, device="cpu").predict_proba(texts)
    scaled = SensoryClassifier.from_pretrained(folder, device="cpu").predict_proba(texts)
    np.testing.assert_allclose(scaled, softmax(np.log(raw) / fit["temperature"]), atol=1e-5)
    assert (scaled.argmax(axis=1) == raw.argmax(axis=1)).all()  # the ranking does not change
    import sensoryt5  # noqa: F401  (registers the model type)

    answers = pipeline("text-classification", model=str(folder), top_k=None)(texts)
    for row, answer in zip(scaled, answers):
        by_label = {a["label"]: a["score"] for a in answer}
        config_labels = [config["id2label"][str(i)] for i in range(len(by_label))]
        np.testing.assert_allclose([by_label[label] for label in config_labels], row, atol=1e-5)


def test_evaluate_reports_calibration_and_writes_a_reliability_diagram(calibrated, tmp_path):
    from sensoryt5.evaluation import evaluate

    folder, fit = calibrated
    data = tmp_path / "eval.csv"
    data.write_text("text,label\nsweet honey cake,joy\nloud thunder noise,fear\nrotten smelly garbage,disgust\n"
                    "happy music party,joy\ndark scary shadow,fear\nsour stinking milk,disgust\n", encoding="utf-8")
    report = evaluate(folder, str(data), output_dir=tmp_path / "eval")
    calibration = report["calibration"]
    assert calibration["temperature"] == pytest.approx(fit["temperature"]) and calibration["bins"] == 15
    assert 0 <= calibration["ece_after"] <= 1 and 0 <= calibration["brier_after"] <= 2
    assert (tmp_path / "eval" / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_train_calibrates_single_label_data_and_refuses_it_for_multi_label(tmp_path, tiny_bert_folder):
    from test_first_hour_data import one_error_line
    from test_first_hour_train import _toy_rows, _train, _write_csv

    _write_csv(tmp_path / "toy.csv", _toy_rows(150))
    result = _train(tiny_bert_folder, tmp_path, "--dataset", "toy.csv", "--output", "model", "--epochs", "1",
                    "--lr", "5e-3")
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "model" / "train_metrics.json").read_text())
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert metrics["calibration"]["fitted_on"] == "validation"
    assert config["temperature"] == pytest.approx(metrics["calibration"]["temperature"])
    assert metrics["calibration"]["dev_nll_after"] <= metrics["calibration"]["dev_nll_before"]
    assert f"scores calibrated on dev: temperature {metrics['calibration']['temperature']:.3f}" in result.stdout
    refused = _train(tiny_bert_folder, tmp_path, "--dataset", "toy.csv", "--output", "multi", "--epochs", "1",
                     "--label-separator", ";", "--calibrate")
    assert refused.returncode == 2 and "--calibrate is for single-label data" in one_error_line(refused)
    assert not (tmp_path / "multi" / "config.json").exists()
