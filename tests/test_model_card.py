"""The model card (README.md) that training writes into every model folder: hub metadata and a body with the
folder's real labels, scores, settings, coverage, command, usage, limitations and data licence."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from huggingface_hub import ModelCard

from sensoryt5.model_card import build_model_card, write_model_card
from sensoryt5.training import TrainingConfig, training_command

SECTIONS = ("## Labels", "## Scores", "## Sensory settings", "## Training", "## How to use", "## Intended use",
            "## Limitations", "## Licence of the training data")


@pytest.fixture(scope="module")
def card(model_dir):
    return ModelCard.load(model_dir / "README.md")


@pytest.fixture(scope="module")
def metrics(model_dir):
    return json.loads((model_dir / "train_metrics.json").read_text(encoding="utf-8"))


def section(card: ModelCard, title: str) -> str:
    """The text of one `## title` section of the card body."""
    return card.text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_training_writes_a_card_whose_metadata_parses_back(card, model_dir):
    data = card.data.to_dict()
    assert data["library_name"] == "sensoryt5" and data["pipeline_tag"] == "text-classification"
    assert data["datasets"] == ["toy.jsonl"] and data["metrics"] == ["accuracy", "f1"]
    assert {"sensoryt5", "fusion-paper", "sensory-norms", "bert"} <= set(data["tags"])
    assert "base_model" not in data  # a local backbone folder is no hub model
    assert "license" not in data  # a user's file: its licence is not known
    dev = card.data.eval_results[0]
    assert dev.dataset_split == "validation" and dev.metric_name == "macro-F1"
    assert dev.metric_value == pytest.approx(json.loads((model_dir / "train_metrics.json").read_text())["dev"]
                                             ["macro_f1"])


def test_every_body_section_is_there_in_order(card):
    positions = [card.text.index(title) for title in SECTIONS]
    assert positions == sorted(positions)


def test_labels_and_dev_scores_are_the_folders(card, metrics):
    labels = section(card, "Labels")
    assert "3 labels (single-label" in labels
    assert all(f"`{label}`" in labels for label in metrics["labels"])
    dev_row = next(line for line in section(card, "Scores").splitlines() if line.startswith("| validation"))
    assert f"| {metrics['dev_examples']} |" in dev_row
    assert f"{100 * metrics['dev']['macro_f1']:.2f}" in dev_row and f"{100 * metrics['dev']['accuracy']:.2f}" in dev_row
    assert "No test scores when this card was written" in section(card, "Scores")


def test_sensory_settings_and_coverage_are_the_folders(card, metrics):
    text = section(card, "Sensory settings")
    assert "sensory values: `norms`" in text and "fusion: `paper`" in text
    assert "visual" in text and "no value (zeros)" in text  # the toy model was trained with oov=None
    coverage = metrics["coverage"]
    assert f"{coverage['words']:,} word tokens" in text
    assert f"{100 * coverage['found']:.1f}%" in text and f"{100 * coverage['missing']:.1f}%" in text


def test_training_section_gives_the_call_that_trained_it(card, metrics):
    text = section(card, "Training")
    assert "train(TrainingConfig(" in text and f"dataset={metrics['config']['dataset']!r}" in text
    assert "learning_rate=0.005" in text and "epochs=4" in text and "seed=0" in text
    assert "batch_size=32" not in text  # defaults are left out
    assert f"{metrics['train_examples']} training texts, 4 epochs" in text


def test_local_paths_show_by_name_outside_the_command(card, model_dir):
    outside = card.content.replace(section(card, "Training"), "")
    assert str(model_dir.parent) not in outside and "`toy.jsonl`" in outside


def test_usage_intended_use_limitations_and_licence(card, model_dir):
    usage = section(card, "How to use")
    assert "from sensoryt5 import SensoryClassifier" in usage
    assert f'pipeline("text-classification", model="{model_dir.name}")' in usage
    assert "English" in section(card, "Intended use")
    limitations = section(card, "Limitations")
    assert "English-only" in limitations
    assert "no fusion gains reliably over the same backbone" in limitations
    assert "gains nothing from the sensory values" in limitations and "random vectors" in limitations
    assert "user's data: see its own licence" in section(card, "Licence of the training data")


def test_test_scores_appear_once_evaluated(model_dir, tmp_path):
    from sensoryt5.evaluation import evaluate

    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    report = evaluate(folder, str(model_dir.parent / "toy.jsonl"), "test")
    card = ModelCard.load(write_model_card(folder))
    test_row = next(line for line in section(card, "Scores").splitlines() if line.startswith("| test"))
    assert f"| {report['n']} |" in test_row and f"{100 * report['macro_f1']:.2f}" in test_row
    assert "No test scores" not in card.text and str(model_dir.parent) not in test_row
    splits = [result.dataset_split for result in card.data.eval_results]
    assert splits == ["validation", "test"]


@pytest.mark.parametrize(("dataset", "hub_id", "licence", "words"), [
    ("empathetic_dialogues", "facebook/empathetic_dialogues", "cc-by-nc-4.0", "CC BY-NC 4.0"),
    ("isear", "isear", "other", "research use only"),
    ("emoint", "emoint", "other", "research use only"),
    ("goemotions", "google-research-datasets/go_emotions", "apache-2.0", "Apache-2.0"),
    ("hf:someone/feelings", "someone/feelings", None, "user's data: see its own licence"),
])
def test_training_data_sets_their_metadata_and_licence(model_dir, tmp_path, dataset, hub_id, licence, words):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    metrics = json.loads((folder / "train_metrics.json").read_text(encoding="utf-8"))
    metrics["config"].update(dataset=dataset, backbone="minilm", sensory="random")
    (folder / "train_metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "sensory_mode": "random"}), encoding="utf-8")
    card = build_model_card(folder)
    assert card.data.datasets == [hub_id] and card.data.license == licence
    assert card.data.license_name == ("research-only" if licence == "other" else None)
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert words in section(card, "Licence of the training data")
    assert "This model is a control: its sensory values are `random`" in section(card, "Limitations")


def test_training_command_is_the_command_line_when_run_by_sensoryt5(monkeypatch):
    monkeypatch.setattr("sys.argv", ["/venv/bin/sensoryt5", "train", "--dataset", "isear", "--output", "my models"])
    config = TrainingConfig(dataset="isear", output="my models")
    assert training_command(config) == "sensoryt5 train --dataset isear --output 'my models'"


def test_training_command_is_the_python_call_with_the_changed_fields(monkeypatch):
    monkeypatch.setattr("sys.argv", ["script.py"])
    command = training_command(TrainingConfig(dataset="isear", output="m", epochs=1.0))
    assert command.endswith("train(TrainingConfig(dataset='isear', output='m', epochs=1.0))")


def test_card_is_written_atomically_over_an_old_one(model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    (folder / "README.md").write_text("old card", encoding="utf-8")
    write_model_card(folder)
    assert (folder / "README.md").read_text(encoding="utf-8").startswith("---\n")
    assert not [p for p in folder.iterdir() if re.match(r"\.README\.md\..*\.tmp", p.name)]
