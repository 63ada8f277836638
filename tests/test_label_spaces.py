"""Shared label spaces: label maps that drop labels (user files and bundled sets), the shipped four-emotion maps,
and `--examples-per-class`."""

from __future__ import annotations

import json
import logging
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from test_data import write_csv
from test_first_hour_data import describe_json, labelled, one_error_line, sensoryt5

from sensoryt5.data import SPLITS, label_array, label_names, load_dataset
from sensoryt5.data.split import examples_per_class
from sensoryt5.errors import InputError
from sensoryt5.train_report import split_sources
from sensoryt5.training import TrainingConfig, per_class_subset, train

FOUR = ["anger", "fear", "joy", "sadness"]


def _counts(data) -> dict[str, Counter]:
    """Per split: label name → rows."""
    names = label_names(data)
    return {split: Counter(names[i] for i in label_array(data[split])) for split in data}


def test_a_json_null_drops_the_rows_of_a_label_and_counts_them(tmp_path, caplog):
    data = write_csv(tmp_path / "d.csv", labelled(["anger", "joy", "shame", "guilt"], 20))
    mapping = tmp_path / "map.json"
    mapping.write_text('{"anger": "anger", "joy": "joy", "shame": null, "guilt": null}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        loaded = load_dataset(data, label_map=mapping)
    assert label_names(loaded) == ["anger", "joy"]
    assert sum(len(loaded[split]) for split in SPLITS) == 40
    notes = [r.getMessage() for r in caplog.records if "(label map)" in r.getMessage()]
    assert notes == ["dropped 40 rows with labels guilt, shame (label map)"]
    report = json.loads(loaded["train"].info.description)["report"]["dropped_by_label_map"]
    assert report["train"] == {"rows": 40, "labels": {"guilt": 20, "shame": 20}}


def test_an_empty_second_csv_column_drops_a_label_on_the_command_line(tmp_path):
    data = write_csv(tmp_path / "d.csv", labelled(["anger", "joy", "disgust"], 10))
    mapping = tmp_path / "map.csv"
    mapping.write_text("anger,anger\njoy,joy\ndisgust,\n", encoding="utf-8")
    result = sensoryt5("data", "describe", data, "--label-map", mapping, "--json", "--no-coverage")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "dropped 10 rows with label disgust (label map)"
    summary = json.loads(result.stdout)
    assert summary["labels"] == ["anger", "joy"]
    assert sum(summary["splits"].values()) == 20


def test_a_multi_label_row_keeps_its_other_labels(tmp_path):
    rows = [(f"text {i}", "joy;shame" if i % 2 else "shame") for i in range(40)]
    mapping = {"joy": "joy", "shame": None}
    loaded = load_dataset(write_csv(tmp_path / "m.csv", rows), label_separator=";", label_map=mapping)
    assert label_names(loaded) == ["joy"]
    assert sum(len(loaded[split]) for split in SPLITS) == 20


def test_a_label_the_map_does_not_name_is_still_an_error(tmp_path):
    data = write_csv(tmp_path / "d.csv", labelled(["anger", "joy", "grief"], 5))
    with pytest.raises(InputError, match=r"does not name 'grief' \(5 rows\)"):
        load_dataset(data, label_map={"anger": "anger", "joy": None})
    with pytest.raises(InputError, match=r"does not name 'disgust' \(\d+ rows\), 'guilt'.*'shame'"):
        load_dataset("isear", label_map={"joy": "joy", "fear": "fear", "anger": "anger", "sadness": "sadness"})


def test_a_map_that_drops_every_label_is_refused(tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("joy,\n", encoding="utf-8")
    with pytest.raises(InputError, match="drops every label"):
        load_dataset(write_csv(tmp_path / "d.csv", labelled(["joy"], 5)), label_map=mapping)


def test_isear_with_the_four_emotion_map_has_exactly_the_four_labels(caplog):
    full = load_dataset("isear")
    with caplog.at_level(logging.WARNING):
        four = load_dataset("isear", label_map="four-emotions")
    assert label_names(four) == FOUR
    before, after = _counts(full), _counts(four)
    for split in SPLITS:
        assert four[split].features["label"].names == FOUR
        assert after[split] == Counter({name: before[split][name] for name in FOUR})  # no row of a dropped label
        assert four[split]["id"] == [i for i, label in zip(full[split]["id"], label_array(full[split]))
                                     if label_names(full)[label] in FOUR]
    rows = {name: sum(before[split][name] for split in SPLITS) for name in ("disgust", "shame", "guilt")}
    order = ", ".join(sorted(rows, key=lambda name: (-rows[name], name)))  # most frequent first
    assert [r.getMessage() for r in caplog.records if "(label map)" in r.getMessage()] == [
        f"dropped {sum(rows.values())} rows with labels {order} (label map)"]
    assert split_sources(four).startswith("data: bundled isear (ISEAR situation reports, 7 emotions")
    assert ", relabelled by the label map four-emotions: train/validation/test " in split_sources(four)
    assert "relabelled" not in split_sources(full)


@pytest.mark.parametrize("name", ["emoint", "empathetic_dialogues", "goemotions"])
def test_every_shipped_four_emotion_map_gives_the_four_labels_in_every_split(name):
    four = load_dataset(name, label_map="four-emotions")
    for split in SPLITS:
        assert four[split].features["label"].names == FOUR
        assert set(_counts(four)[split]) == set(FOUR)


def test_the_goemotions_map_follows_the_bundled_ekman_mapping():
    root = resources.files("sensoryt5").joinpath("resources")
    ekman = json.loads(root.joinpath("datasets/goemotions/ekman_mapping.json").read_text())
    shipped = json.loads(root.joinpath("label_maps/four-emotions/goemotions.json").read_text())
    expected = {fine: coarse for coarse, fines in ekman.items() if coarse in FOUR for fine in fines}
    assert {fine: coarse for fine, coarse in shipped.items() if coarse is not None} == expected
    assert {fine for fine, coarse in shipped.items() if coarse is None} == \
        {"neutral", *ekman["disgust"], *ekman["surprise"]}


def test_a_shipped_map_name_is_refused_for_user_data_and_when_a_file_shadows_it(tmp_path, monkeypatch):
    data = write_csv(tmp_path / "d.csv", labelled(["anger", "joy"], 5))
    with pytest.raises(InputError, match="applies to the bundled data sets"):
        load_dataset(data, label_map="four-emotions")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "four-emotions").write_text("anger,anger\njoy,\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"both a shipped label map and a file here; write the file as "
                                         r"\./four-emotions"):
        load_dataset("isear", label_map="four-emotions")
    assert label_names(load_dataset(data, label_map="./four-emotions")) == ["anger"]


def test_examples_per_class_takes_exactly_n_of_each_class_seeded_and_nested():
    train_split = load_dataset("isear", label_map="four-emotions")["train"]
    picked = per_class_subset(train_split, 8, seed=1)
    assert Counter(label_array(picked).tolist()) == {label: 8 for label in range(4)}
    assert picked["id"] == per_class_subset(train_split, 8, seed=1)["id"]
    assert picked["id"] != per_class_subset(train_split, 8, seed=2)["id"]
    assert set(picked["id"]) <= set(per_class_subset(train_split, 32, seed=1)["id"])


def test_examples_per_class_keeps_all_of_a_smaller_class_and_says_so(capsys):
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    indices, short = examples_per_class(labels, 5, seed=0)
    assert Counter(labels[indices].tolist()) == {0: 5, 1: 3, 2: 5} and short == {1: 3}
    fear_is_small = load_dataset("goemotions", label_map="four-emotions")["validation"]
    per_class_subset(fear_is_small, 100, seed=0)
    assert capsys.readouterr().out.strip() == ("--examples-per-class 100: fewer training examples in fear (66); "
                                               "using all of them")


def test_a_model_trained_on_isear_4_evaluates_on_emoint_in_the_same_label_space(tmp_path, tiny_bert_folder):
    from sensoryt5.evaluation import evaluate

    metrics = train(TrainingConfig(dataset="isear", label_map="four-emotions", examples_per_class=4,
                                   output=str(tmp_path / "model"), backbone=str(tiny_bert_folder), epochs=1,
                                   batch_size=16, max_length=32, oov_embedder=None, early_stopping_patience=None,
                                   progress=False))
    assert metrics["labels"] == FOUR and metrics["train_examples"] == 16
    report = evaluate(tmp_path / "model", "emoint", split="validation")  # the recorded map resolves for emoint
    predictions = [json.loads(line) for line in Path(report["predictions_file"]).read_text().splitlines()]
    assert len(predictions) == len(load_dataset("emoint")["validation"])
    assert {row["gold"] for row in predictions} == set(FOUR)


@pytest.mark.parametrize("options,message", [
    (["--examples-per-class", "0"], "--examples-per-class (examples_per_class) must be positive, got 0"),
    (["--examples-per-class", "8", "--max-train-samples", "16"],
     "--examples-per-class (examples_per_class) and --max-train-samples exclude each other")])
def test_bad_examples_per_class_options_exit_2_naming_the_flag(tmp_path, options, message):
    line = one_error_line(sensoryt5("train", "--dataset", "isear", "--output", tmp_path / "m", *options))
    assert message in line


def test_examples_per_class_on_multi_label_data_exits_2(tmp_path, tiny_bert_folder):
    rows = [(f"text {i}", "joy;fear" if i % 3 else "anger") for i in range(60)]
    data = write_csv(tmp_path / "m.csv", rows)
    line = one_error_line(sensoryt5("train", "--dataset", data, "--label-separator", ";", "--output", tmp_path / "m",
                                    "--backbone", tiny_bert_folder, "--oov", "none", "--examples-per-class", "4"))
    assert "--examples-per-class (examples_per_class) is not supported for multi-label data" in line


def test_the_shipped_map_on_the_command_line_and_its_errors(tmp_path):
    summary = describe_json("emoint", "--label-map", "four-emotions")
    assert summary["labels"] == FOUR and summary["report"]["labels_renamed"]["shipped"] == "four-emotions"
    line = one_error_line(sensoryt5("data", "describe", "isear", "--label-map", tmp_path / "nope.json",
                                    "--no-coverage"))
    assert "no such label map file" in line and "nope.json" in line
