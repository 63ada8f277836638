"""`sensoryt5 predict --input`: the output format by extension (.jsonl, .csv, .parquet, `-` for stdout), blank and
invalid texts (an error naming file, row and column, or skipped and counted with --skip-invalid)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sensoryt5.errors import InputError

TEXTS = ["sweet honey cake at home", "loud thunder noise", "rotten smelly garbage"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def _jsonl(path: Path, texts: list) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    return path


def _check_predictions(records: list[dict], texts: list[str], clf) -> None:
    assert [r["text"] for r in records] == texts
    for record, expected in zip(records, clf.predict(texts, top_k=2)):
        assert [p["label"] for p in record["predictions"]] == [p["label"] for p in expected]
        np.testing.assert_allclose([p["score"] for p in record["predictions"]], [p["score"] for p in expected],
                                   atol=1e-5)


def test_output_format_follows_the_extension(model_dir, clf, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    for suffix in (".jsonl", ".csv", ".parquet"):  # in-process: the CLI calls this same function
        clf.predict_file(source, tmp_path / f"out{suffix}", top_k=2, id_column="id")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["row", "id", "text", "predictions", "sensory_coverage", "truncated"]
    from_csv = [{**row, "predictions": json.loads(row["predictions"])} for row in rows]
    from_parquet = pd.read_parquet(tmp_path / "out.parquet").to_dict(orient="records")
    for records in (lines, from_csv, from_parquet):
        assert [str(r["row"]) for r in records] == ["1", "2", "3"] and [r["id"] for r in records] == ["r0", "r1", "r2"]
        _check_predictions([{**r, "predictions": list(r["predictions"])} for r in records], TEXTS, clf)


def test_unknown_output_extension_is_an_error_naming_output(clf, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    with pytest.raises(InputError, match=r"unsupported output extension '\.txt' for --output"):
        clf.predict_file(source, tmp_path / "out.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_cli_writes_csv_and_stdout(model_dir, clf, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(tmp_path / "out.csv"),
                  "--top-k", "2")
    assert result.returncode == 0, result.stderr
    assert "Wrote 3 predictions" in result.stdout
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        rows = [{**row, "predictions": json.loads(row["predictions"])} for row in csv.DictReader(handle)]
    _check_predictions(rows, TEXTS, clf)
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", "-", "--top-k", "2")
    assert result.returncode == 0, result.stderr
    _check_predictions([json.loads(line) for line in result.stdout.splitlines()], TEXTS, clf)
    assert "Wrote 3 predictions" in result.stderr


def test_cli_unknown_extension_is_one_line_naming_output(model_dir, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", TEXTS)
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(tmp_path / "out.txt"))
    assert result.returncode == 2 and "--output" in result.stderr and "'.txt'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out.txt").exists()


def test_cli_blank_text_is_located_or_skipped_and_counted(model_dir, clf, tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", [TEXTS[0], "   ", None, TEXTS[1], "", TEXTS[2]])
    output = tmp_path / "out.jsonl"
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(output))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"file {source}, row 2, column 'text': the text is blank" in result.stderr
    assert not output.exists()
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(output), "--skip-invalid",
                  "--top-k", "2")
    assert result.returncode == 0, result.stderr
    assert "Wrote 3 predictions" in result.stdout and "Skipped 3 rows (blank: 2, missing: 1)" in result.stdout
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [r["row"] for r in records] == [1, 4, 6]
    _check_predictions(records, TEXTS, clf)
    result = _cli("predict", str(model_dir), TEXTS[0], " ")
    assert result.returncode == 2 and "texts[1] is blank" in result.stderr
