"""Data-loading traps a user meets in the first hour, each driven through the real command line (a subprocess).

Every case writes its own files: labels that differ only in case, a label map, several labels in one cell without a
separator, invalid rows under `train --skip-invalid`, a CSV cell longer than 128 KB, and error hints that name the
command-line flag.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_data import write_csv

SRC = Path(__file__).resolve().parents[1] / "src"


def sensoryt5(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m sensoryt5 ARGS` in a fresh process with this checkout's sources."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def labelled(labels: list[str], repeat: int) -> list[tuple[str, str]]:
    """`repeat` rows per label, each with its own text."""
    return [(f"text {i} for {label} number {n}", label) for n in range(repeat) for i, label in enumerate(labels)]


def describe_json(*args: str) -> dict:
    """`data describe ARGS --json --no-coverage`, which must succeed."""
    result = sensoryt5("data", "describe", *args, "--json", "--no-coverage")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single `error: ...` line of a run that failed as a user mistake (exit 2, no traceback)."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def case_mix(tmp_path) -> Path:
    """Anger written three ways (12, 6 and 24 rows) beside 10 joy rows."""
    rows = labelled(["Anger"], 12) + labelled(["ANGER"], 6) + labelled(["anger"], 24) + labelled(["joy"], 10)
    return write_csv(tmp_path / "case.csv", rows)


def test_labels_differing_only_in_case_stop_the_load_naming_each_with_its_count(case_mix):
    line = one_error_line(sensoryt5("data", "describe", case_mix, "--no-coverage"))
    assert str(case_mix) in line and "column 'label'" in line
    assert "'ANGER' (6 rows), 'Anger' (12 rows), 'anger' (24 rows)" in line
    assert "--label-case lower" in line and "--label-map" in line


def test_label_case_lower_folds_labels_into_one(case_mix):
    summary = describe_json(case_mix, "--label-case", "lower")
    assert summary["labels"] == ["anger", "joy"]
    assert sum(counts["anger"] for counts in summary["label_counts"].values()) == 42
    assert sum(counts["joy"] for counts in summary["label_counts"].values()) == 10


def test_an_unknown_label_case_is_refused(case_mix):
    line = one_error_line(sensoryt5("data", "describe", case_mix, "--label-case", "upper", "--no-coverage"))
    assert "'upper'" in line and "keep, lower" in line


def test_a_json_label_map_merges_fine_labels_into_coarse_ones(tmp_path):
    data = write_csv(tmp_path / "go.csv", labelled(["amusement", "excitement", "annoyance", "fear"], 6))
    mapping = tmp_path / "ekman.json"
    mapping.write_text(json.dumps({"amusement": "joy", "excitement": "joy", "annoyance": "anger",
                                   "fear": "fear"}), encoding="utf-8")
    summary = describe_json(data, "--label-map", mapping)
    assert summary["labels"] == ["anger", "fear", "joy"]
    assert sum(counts["joy"] for counts in summary["label_counts"].values()) == 12


def test_a_csv_label_map_applies_after_case_folding(case_mix, tmp_path):
    mapping = tmp_path / "map.csv"
    mapping.write_text("ANGER,fury\njoy,happiness\n", encoding="utf-8")
    summary = describe_json(case_mix, "--label-case", "lower", "--label-map", mapping)
    assert summary["labels"] == ["fury", "happiness"]
    assert sum(counts["fury"] for counts in summary["label_counts"].values()) == 42
    assert summary["report"]["labels_renamed"] == {"label_case": "lower",
                                                   "label_map": {"anger": "fury", "joy": "happiness"}}


@pytest.mark.parametrize("content,expected", [
    ("joy,happiness,extra\n", "row 1: 3 field(s); each line of a label map is: raw label, label"),
    ("joy,happiness\njoy,delight\n", "row 2: the label map sends 'joy' to both 'happiness' and 'delight'"),
    (",happiness\n", "row 1: a label map entry has an empty side")])
def test_a_bad_label_map_file_is_located(case_mix, tmp_path, content, expected):
    mapping = tmp_path / "map.csv"
    mapping.write_text(content, encoding="utf-8")
    line = one_error_line(sensoryt5("data", "describe", case_mix, "--label-map", mapping, "--no-coverage"))
    assert f"file {mapping}, {expected}" in line


def test_a_label_missing_from_the_map_is_named_with_its_count(tmp_path):
    data = write_csv(tmp_path / "go.csv", labelled(["amusement", "grief", "fear"], 5))
    mapping = tmp_path / "map.json"
    mapping.write_text('{"amusement": "joy"}', encoding="utf-8")
    line = one_error_line(sensoryt5("data", "describe", data, "--label-map", mapping, "--no-coverage"))
    assert "does not name 'fear' (5 rows), 'grief' (5 rows)" in line
    assert "row 3" in line  # the first row whose label the map lacks (the header is line 1)


def test_train_stops_on_a_case_collision_before_training(case_mix, tmp_path):
    output = tmp_path / "model"
    line = one_error_line(sensoryt5("train", "--dataset", case_mix, "--output", output, "--oov", "none"))
    assert "'ANGER' (6 rows), 'Anger' (12 rows), 'anger' (24 rows)" in line
    assert not (output / "config.json").exists()


@pytest.mark.parametrize("separator", [";", "|", ","])
def test_several_labels_in_a_cell_without_a_separator_warn_naming_the_flag(tmp_path, separator):
    rows = labelled(["joy", "fear"], 10) + [(f"mixed text {n}", f"joy{separator}fear") for n in range(2)]
    summary_run = sensoryt5("data", "describe", write_csv(tmp_path / "multi.csv", rows), "--json", "--no-coverage")
    assert summary_run.returncode == 0, summary_run.stderr
    warnings = [line for line in summary_run.stderr.splitlines() if "--label-separator" in line]
    assert len(warnings) == 1 and f"--label-separator {shlex.quote(separator)}" in warnings[0], summary_run.stderr
    assert "9%" in warnings[0]  # 2 of 22 cells
    assert f"joy{separator}fear" in json.loads(summary_run.stdout)["labels"]  # still one label, as asked


def test_rare_separator_like_characters_and_a_given_separator_do_not_warn(tmp_path):
    rare = labelled(["joy", "fear"], 20) + [("one odd row", "joy;fear")]  # 1 of 41 cells: under 5%
    result = sensoryt5("data", "describe", write_csv(tmp_path / "rare.csv", rare), "--no-coverage")
    assert result.returncode == 0 and "--label-separator" not in result.stderr, result.stderr
    split = labelled(["joy", "fear"], 10) + [(f"mixed {n}", "joy;fear") for n in range(5)]
    summary_run = sensoryt5("data", "describe", write_csv(tmp_path / "split.csv", split), "--label-separator", ";",
                            "--json", "--no-coverage")
    assert summary_run.returncode == 0 and "--label-separator" not in summary_run.stderr, summary_run.stderr
    assert json.loads(summary_run.stdout)["multi_label"] is True


def test_train_skip_invalid_skips_bad_rows_and_counts_them_per_reason(tmp_path, tiny_bert_folder):
    rows = labelled(["joy", "Fear", "fear"], 8) + [("   ", "joy"), ("no label here", ""), ("another blank", " ")]
    data = write_csv(tmp_path / "bad.csv", rows)
    with data.open("a", encoding="utf-8") as handle:
        handle.write("a row,with,three fields\n")
    output = tmp_path / "model"
    result = sensoryt5("train", "--dataset", data, "--output", output, "--backbone", tiny_bert_folder, "--oov",
                       "none", "--epochs", "1", "--max-length", "16", "--batch-size", "8", "--label-case", "lower",
                       "--skip-invalid")
    assert result.returncode == 0, result.stderr
    assert f"skipped 4 invalid row(s) in {data}: 1 blank, 2 empty label, 1 wrong field count" in result.stderr
    metrics = json.loads((output / "train_metrics.json").read_text(encoding="utf-8"))
    assert metrics["labels"] == ["fear", "joy"]
    assert metrics["config"]["skip_invalid"] is True and metrics["config"]["label_case"] == "lower"
    splits = describe_json(data, "--label-case", "lower", "--skip-invalid")["splits"]
    assert sum(splits.values()) == 24  # the good rows, all of them
    assert (metrics["train_examples"], metrics["dev_examples"]) == (splits["train"], splits["validation"])


def test_train_without_skip_invalid_stops_at_the_first_bad_row(tmp_path):
    data = write_csv(tmp_path / "bad.csv", labelled(["joy", "fear"], 8) + [("   ", "joy")])
    line = one_error_line(sensoryt5("train", "--dataset", data, "--output", tmp_path / "model", "--oov", "none"))
    assert f"file {data}, row 18, column 'text': the text is blank" in line


@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t")])
def test_a_cell_longer_than_128_kb_loads(tmp_path, suffix, delimiter):
    long_text = " ".join(["a long, quoted \"story\" about the sea"] * 6000)  # about 220 KB
    assert len(long_text) > 200_000
    path = tmp_path / f"long{suffix}"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["text", "label"])
        writer.writerows(labelled(["joy", "fear"], 10) + [(long_text, "awe")] * 5)
    summary = describe_json(path)
    assert sum(summary["splits"].values()) == 25
    assert sum(counts["awe"] for counts in summary["label_counts"].values()) == 5


def test_a_missing_column_hint_names_the_flags_on_the_command_line_and_parameters_in_python(tmp_path):
    data = write_csv(tmp_path / "cols.csv", labelled(["joy", "fear"], 5), header=("body", "label"))
    line = one_error_line(sensoryt5("data", "describe", data, "--no-coverage"))
    assert "no column 'text'" in line and "choose others with --text-column / --label-column" in line
    assert "text_column=" not in line
    from sensoryt5.data import load_dataset
    from sensoryt5.errors import InputError

    with pytest.raises(InputError, match="choose others with text_column= / label_column="):
        load_dataset(data)


def test_options_misplaced_on_a_bundled_set_are_named_as_flags():
    line = one_error_line(sensoryt5("data", "describe", "isear", "--label-column", "emotion", "--label-case", "lower",
                                    "--no-coverage"))
    assert "--label-column, --label-case apply to your own files, not to the bundled 'isear'" in line
    line = one_error_line(sensoryt5("data", "describe", "isear", "--mask-label-hashtags", "--no-coverage"))
    assert "--mask-label-hashtags applies to emoint only" in line


def test_a_label_map_error_hint_names_skip_invalid_as_a_flag(tmp_path):
    data = write_csv(tmp_path / "go.csv", labelled(["amusement", "grief"], 5))
    mapping = tmp_path / "map.json"
    mapping.write_text('{"amusement": "joy"}', encoding="utf-8")
    line = one_error_line(sensoryt5("data", "describe", data, "--label-map", mapping, "--no-coverage"))
    assert "or pass --skip-invalid to skip their rows" in line
    skipped = describe_json(data, "--label-map", mapping, "--skip-invalid")
    assert skipped["labels"] == ["joy"]
    assert skipped["report"]["skipped_rows"]["train"] == {"label not in the label map": 5}


def test_predict_input_hint_names_the_text_column_flag(tmp_path, model_dir):
    texts = write_csv(tmp_path / "texts.csv", [("sweet honey cake", "x")], header=("body", "other"))
    line = one_error_line(sensoryt5("predict", model_dir, "--input", texts, "--output", tmp_path / "out.jsonl"))
    assert "no column 'text'" in line and line.endswith("choose another with --text-column")
