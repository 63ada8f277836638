"""Sensory coverage reaches the user: `predict --json`, `predict --input`, `explain --json`, the Python API and
`/v1/predict` carry each text's share of words with sensory values, and the command line warns once per run when a
text has none (the norms are English: a Chinese text gets coverage 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ENGLISH = "sweet honey cake at home"
CHINESE = "我今天非常生气"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "sensoryt5", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_python_api_gives_coverage_per_text(clf):
    english, chinese = clf.sensory_coverage([ENGLISH, CHINESE])
    assert english == pytest.approx(1.0) and chinese == 0.0
    assert clf.explain(CHINESE)["sensory_coverage"] == 0.0


def test_predict_json_marks_uncovered_texts_and_warns_once(model_dir):
    result = _cli("predict", str(model_dir), ENGLISH, CHINESE, CHINESE, "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["sensory_coverage"] for r in records] == [pytest.approx(1.0), 0.0, 0.0]
    assert result.stderr.count("sensory coverage 0") == 1 and "2 of 3 text(s)" in result.stderr


def test_predict_english_only_gives_no_warning(model_dir):
    result = _cli("predict", str(model_dir), ENGLISH, "--json")
    assert result.returncode == 0 and "sensory coverage 0" not in result.stderr


def test_predict_file_records_coverage_and_warns(model_dir, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in (ENGLISH, CHINESE)), encoding="utf-8")
    result = _cli("predict", str(model_dir), "--input", str(source), "--output", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["sensory_coverage"] for r in lines] == [pytest.approx(1.0), 0.0]
    assert "1 of 2 text(s) have sensory coverage 0" in " ".join(result.stdout.split() + result.stderr.split())


def test_explain_json_marks_coverage(model_dir):
    result = _cli("explain", str(model_dir), CHINESE, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sensory_coverage"] == 0.0 and "sensory coverage 0" in result.stderr


def test_server_returns_coverage(clf):
    from fastapi.testclient import TestClient

    from sensoryt5.serving import create_app

    with TestClient(create_app(clf)) as client:
        body = client.post("/v1/predict", json={"texts": [ENGLISH, CHINESE]}).json()
    assert body["sensory_coverage"] == [pytest.approx(1.0), 0.0]
    assert len(body["predictions"]) == 2
