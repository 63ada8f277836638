"""Training, evaluation and reproduction end to end on tiny models (CPU, a few seconds each)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sensoryt5.training import TrainingConfig, train

FAST = dict(dataset="isear", max_train_samples=64, epochs=1, batch_size=16, max_length=32, oov_embedder=None,
            early_stopping_patience=None)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert_folder) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("trained") / "model"
    metrics = train(TrainingConfig(output=str(output), backbone=str(tiny_bert_folder), seed=3, **FAST))
    return output, metrics


def test_train_writes_a_self_contained_model_folder(trained):
    output, metrics = trained
    names = {p.name for p in output.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "sensory_processor.json",
            "train_metrics.json", "README.md"} <= names
    assert "checkpoints" not in names and ".staging" not in names
    assert not list(output.glob("*.bin"))
    recorded = json.loads((output / "train_metrics.json").read_text())
    assert recorded["train_examples"] == 64 and recorded["dev_examples"] == 743
    assert 0.0 <= recorded["dev"]["macro_f1"] <= 1.0
    assert recorded["labels"] == ["joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"]
    assert recorded["history"] and recorded["history"][0]["epoch"] == 1
    assert metrics["dev"] == recorded["dev"] and metrics["written_by_this_process"] is True


def test_saved_model_reproduces_dev_metrics(trained):
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.data import label_array, load_dataset
    from sensoryt5.metrics import single_label_metrics

    output, metrics = trained
    clf = SensoryClassifier.from_pretrained(output, device="cpu")
    dev = load_dataset("isear")["validation"]
    pred = clf.predict_proba(list(dev["text"])).argmax(axis=1)
    again = single_label_metrics(label_array(dev), pred)
    assert again["macro_f1"] == pytest.approx(metrics["dev"]["macro_f1"], abs=1e-9)
    assert again["accuracy"] == pytest.approx(metrics["dev"]["accuracy"], abs=1e-9)


def test_refuses_to_overwrite_a_model_without_flag(trained, tiny_bert_folder):
    output, _ = trained
    result = _cli("train", "--dataset", "isear", "--output", str(output), "--backbone", str(tiny_bert_folder),
                  "--oov", "none", "--max-train-samples", "16", "--epochs", "1")
    assert result.returncode == 2
    assert "already holds a trained model" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_cli_json(trained, tmp_path):
    output, _ = trained
    result = _cli("evaluate", str(output), "--dataset", "isear", "--split", "test", "--json",
                  "--output", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "weighted_f1", "n"} <= set(report)
    assert report["n"] == 743 and len(report["per_class"]) == 7
    rows = [json.loads(line) for line in (tmp_path / "eval" / "predictions.jsonl").open()]
    assert len(rows) == 743
    assert set(rows[0]) == {"text", "gold", "predicted", "probabilities", "truncated"}
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert report["calibration"]["bins"] == 15 and (tmp_path / "eval" / "reliability.png").is_file()
    accuracy = np.mean([r["gold"] == r["predicted"] for r in rows])
    assert accuracy == pytest.approx(report["accuracy"])
    assert (tmp_path / "eval" / "confusion_matrix.png").stat().st_size > 1000


def test_multilabel_training_tunes_thresholds_on_dev(tmp_path, tiny_bert_folder):
    rng = np.random.default_rng(0)
    words = {"a": "sweet honey cake", "b": "loud thunder noise", "c": "soft velvet touch"}
    rows = []
    for i in range(120):
        chosen = sorted(rng.choice(list(words), size=rng.integers(1, 3), replace=False))
        rows.append({"text": " ".join(words[c] for c in chosen) + f" {i}", "label": ";".join(chosen)})
    path = tmp_path / "multi.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    output = tmp_path / "model"
    metrics = train(TrainingConfig(dataset=str(path), output=str(output), backbone=str(tiny_bert_folder),
                                   label_separator=";", epochs=2, batch_size=16, max_length=16, oov_embedder=None,
                                   early_stopping_patience=None))
    assert metrics["multi_label"] is True
    config = json.loads((output / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert len(config["label_thresholds"]) == 3
    assert all(0.0 < t < 1.0 for t in config["label_thresholds"])
    assert {"micro_f1", "macro_f1"} <= set(metrics["dev"])


def test_t5_path_trains_end_to_end(tmp_path, tiny_t5_folder):
    metrics = train(TrainingConfig(output=str(tmp_path / "t5"), backbone=str(tiny_t5_folder), **FAST))
    assert metrics["train_examples"] == 64
    config = json.loads((tmp_path / "t5" / "config.json").read_text())
    assert config["backbone_config"]["model_type"] == "t5" and config["sensory_mode"] == "norms"


def test_zeroing_a_sense_keeps_the_six_sense_initialisation(tmp_path, tiny_bert_folder):
    """Leaving a sense out by zeroing it starts from the six-sense model's weights; removing its column changes the
    sensory projection's shape, and with it the classifier head's initialisation (learning rate 0 keeps the
    initial weights)."""
    import torch
    from safetensors.torch import load_file

    frozen = dict(FAST, max_train_samples=16, learning_rate=0.0, fusion="input", seed=5)
    variants = {"full": {}, "zeroed": {"ablate": ("visual",)},
                "removed": {"sensory_dims": "auditory,gustatory,haptic,interoceptive,olfactory"}}
    weights = {}
    for name, extra in variants.items():
        train(TrainingConfig(output=str(tmp_path / name), backbone=str(tiny_bert_folder), **frozen, **extra))
        weights[name] = load_file(tmp_path / name / "model.safetensors")
    assert weights["zeroed"].keys() == weights["full"].keys()
    for key, value in weights["full"].items():
        assert torch.equal(weights["zeroed"][key], value), key
    assert not torch.equal(weights["removed"]["classifier.weight"], weights["full"]["classifier.weight"])
    saved = json.loads((tmp_path / "zeroed" / "sensory_processor.json").read_text())
    assert saved["ablate"] == ["visual"] and saved["sensory_dims"] == list(json.loads(
        (tmp_path / "full" / "sensory_processor.json").read_text())["sensory_dims"])


def test_reproduce_grid_is_resumable(tmp_path, tiny_bert_folder):
    from sensoryt5.reproduce import ReproduceConfig, run_grid, training_template

    training = training_template(backbone=str(tiny_bert_folder), epochs=1, batch_size=16, max_length=32,
                                 max_train_samples=48, early_stopping_patience=None)
    config = ReproduceConfig(datasets=["isear"], sensory_modes=["none", "norms"], seeds=[1, 2], training=training,
                             output=str(tmp_path), name="tiny")
    seen: list[str] = []
    payload = run_grid(config, progress=seen.append)
    folder = tmp_path / "tiny"
    assert len(list(folder.glob("runs/isear/*/seed*/result.json"))) == 4
    assert not list(folder.glob("runs/**/model.safetensors"))
    summary = payload["summary"]["isear"]
    assert set(summary) == {"none", "paper-norms"}
    delta = summary["paper-norms"]["vs_none"]
    assert delta["ci_low"] <= delta["difference"] <= delta["ci_high"] and delta["seeds"] == [1, 2]
    text = (folder / "RESULTS.md").read_text()
    assert "| isear | paper-norms | 2 |" in text and "Per-seed runs" in text
    assert (folder / "results.png").stat().st_size > 1000
    again: list[str] = []
    run_grid(config, progress=again.append)
    assert again == ["4 of 4 runs already finished; 0 to run"]


def test_reproduce_report_pairs_multi_label_runs_on_multi_hot_macro_f1(tmp_path):
    from sensoryt5.metrics import macro_f1_of
    from sensoryt5.reproduce import summarise, write_report

    gold = [[0], [1, 2], [2], [0, 1], [1]] * 8
    better = [[0], [1, 2], [2], [0], [1]] * 8
    worse = [[0], [1], [], [0], [1, 2]] * 8

    def run(key: str, pred: list[list[int]]) -> dict:
        return {"dataset": "goemotions-multilabel", "variant": {"sensory_mode": "none" if key == "none" else "norms",
                                                                "fusion": "input"},
                "variant_key": key, "seed": 1, "labels": ["a", "b", "c"], "test_gold": gold, "test_pred": pred,
                "test": {"accuracy": 0.0, "macro_f1": 0.0}, "dev": {"macro_f1": 0.0}, "epochs_run": 3,
                "train_examples": 10, "wall_time_s": 1.0, "machine": {"cpu": "x", "cores": 2}, "command": "c"}

    delta = summarise([run("none", worse), run("input-norms", better)], n_resamples=200)[
        "goemotions-multilabel"]["input-norms"]["vs_none"]
    def hot(rows: list[list[int]]) -> np.ndarray:
        return np.array([[int(c in row) for c in range(3)] for row in rows])

    expected = macro_f1_of(hot(gold), hot(better)) - macro_f1_of(hot(gold), hot(worse))
    assert delta["difference"] == pytest.approx(expected)
    assert 0 < delta["ci_low"] <= delta["difference"] <= delta["ci_high"] and delta["seeds"] == [1]
    for name, r in (("none", run("none", worse)), ("input-norms", run("input-norms", better))):
        folder = tmp_path / "gm" / "runs" / "goemotions-multilabel" / name / "seed1"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(r))
    write_report(tmp_path / "gm")
    text = (tmp_path / "gm" / "RESULTS.md").read_text()
    assert "| goemotions-multilabel | input-norms | 1 |" in text and "accuracy is exact match" in text
    assert "BERT-base 0.46" in text


def test_reproduce_ablate_adds_one_zeroed_variant_per_sense_and_checks_them_first():
    from sensoryt5.errors import OptionError
    from sensoryt5.reproduce import ReproduceConfig, check_variants, variants

    config = ReproduceConfig(sensory_modes=["none", "norms"], fusions=["input"], ablate=["visual", "haptic"])
    assert [v.key for v in variants(config)] == ["none", "input-norms", "input-norms-zero_visual",
                                                 "input-norms-zero_haptic"]
    check_variants(config)
    with pytest.raises(OptionError, match="unknown dimension to ablate 'hand_arm'"):
        check_variants(ReproduceConfig(sensory_modes=["norms"], ablate=["hand_arm"]))


def test_distributed_training_with_torchrun_two_cpu_processes(tmp_path, tiny_bert_folder):
    output = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
               "-m", "sensoryt5", "train", "--dataset", "isear", "--output", str(output), "--backbone",
               str(tiny_bert_folder), "--oov", "none", "--max-train-samples", "64", "--epochs", "1",
               "--batch-size", "8", "--max-length", "32", "--patience", "0"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Saved") == 1  # only rank 0 writes
    recorded = json.loads((output / "train_metrics.json").read_text())
    assert recorded["world_size"] == 2 and recorded["train_examples"] == 64
    assert not (output / "checkpoints").exists() and not (output / ".staging").exists()
    from sensoryt5.classifier import SensoryClassifier

    clf = SensoryClassifier.from_pretrained(output, device="cpu")
    assert len(clf.predict(["I was so happy to see my friends."])[0]) == 7


def test_report_to_tensorboard_writes_an_events_file(tmp_path, tiny_bert_folder):
    pytest.importorskip("tensorboard")
    output = tmp_path / "model"
    train(TrainingConfig(output=str(output), backbone=str(tiny_bert_folder), report_to="tensorboard",
                         **{**FAST, "max_train_samples": 32}))
    assert list((output / "logs").rglob("events.out.tfevents.*"))
    quiet = tmp_path / "quiet"
    train(TrainingConfig(output=str(quiet), backbone=str(tiny_bert_folder), **{**FAST, "max_train_samples": 32}))
    assert not (quiet / "logs").exists()  # the default, --report-to none, writes no logs
