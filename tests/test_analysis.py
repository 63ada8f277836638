"""`sensoryt5 analyze`: sensory attributions per predicted emotion, their intervals, the files and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensoryt5.analysis import MIN_TEXTS, analyze, sense_parts

TEXTS = ["rotten smelly garbage today", "sour stinking milk again", "sweet honey cake there", "loud thunder noise",
         "bright warm sunshine at home", "slimy greasy mould", "happy music party", "dark scary shadow again"]


def test_sense_parts_are_the_explanations_sensory_parts(clf):
    predicted, parts, change = sense_parts(clf, TEXTS, n_steps=16)
    for i, text in enumerate(TEXTS):
        result = clf.explain(text, n_steps=16)
        assert clf.labels[predicted[i]] == result["explained"]["label"]
        assert parts[i].sum() == pytest.approx(sum(w["sensory_contribution"] for w in result["words"]), abs=1e-6)
        assert change[i] == pytest.approx(result["explained"]["score"] - result["explained"]["baseline_score"])


def test_analyze_groups_texts_by_predicted_emotion_with_intervals(clf):
    analysis = analyze(clf, TEXTS * 2, n_steps=16, n_resamples=200)
    assert sum(row["texts"] for row in analysis["emotions"]) == 2 * len(TEXTS)
    assert analysis["senses"] == list(clf.processor.lexicon.dims)
    predicted, parts, _ = sense_parts(clf, TEXTS * 2, n_steps=16)
    assert {row["texts"] >= MIN_TEXTS for row in analysis["emotions"]} == {True, False}  # both kinds of row
    for row in analysis["emotions"]:
        rows = parts[predicted == clf.labels.index(row["label"])]
        for j, sense in enumerate(analysis["senses"]):
            cell = row["sensory_part"][sense]
            assert cell["value"] == pytest.approx(rows[:, j].mean())
            if row["texts"] < MIN_TEXTS:  # no interval from a handful of texts
                assert cell["low"] is None and cell["high"] is None
            else:
                assert cell["low"] <= cell["value"] + 1e-12 and cell["value"] <= cell["high"] + 1e-12


def test_cli_analyze_writes_table_json_and_heat_map(model_dir, tmp_path):
    from test_first_hour_data import one_error_line
    from test_inference import _cli

    data = tmp_path / "mine.csv"
    data.write_text("feeling,comment\n" + "\n".join(f"{label},{text}" for label, text in zip(
        ["disgust", "disgust", "joy", "fear", "joy", "disgust", "joy", "fear"], TEXTS)) + "\n", encoding="utf-8")
    out = tmp_path / "analysis"
    result = _cli("analyze", str(model_dir), "--dataset", "isear", "--split", "dev", "--output", str(out))
    assert result.returncode == 2 and "no split 'dev' in isear" in one_error_line(result)
    result = _cli("analyze", str(model_dir), "--dataset", str(data), "--text-column", "comment",
                  "--label-column", "feeling", "--steps", "8", "--max-samples", "5", "--output", str(out))
    assert result.returncode == 0, result.stderr
    saved = json.loads((out / "analysis.json").read_text())
    assert saved["texts"] == 5 and saved["split"] == "all" and saved["n_steps"] == 8  # a single file: used whole
    assert (out / "analysis.png").read_bytes()[:4] == b"\x89PNG"
    table = (out / "analysis.md").read_text()
    assert all(f"| {row['label']} | {row['texts']} |" in table for row in saved["emotions"])
    assert all(row["label"] in result.stdout for row in saved["emotions"])
    assert np.isfinite([c["value"] for row in saved["emotions"] for c in row["sensory_part"].values()]).all()
