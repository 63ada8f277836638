"""The multi-label comparison of part 6: per-label F1 and paired differences from result.json files, and a clear
stop when no seed has both variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.multilabel_report import write

LABELS = ["joy", "fear", "relief"]
GOLD = [[0], [1], [0, 2], [2], [1], [0]] * 5


def _write_run(folder: Path, key: str, pred: list[list[int]], seed: int = 1) -> None:
    run_dir = folder / "runs" / "goemotions-multilabel" / key / f"seed{seed}"
    run_dir.mkdir(parents=True)
    run = {"dataset": "goemotions-multilabel", "variant_key": key, "seed": seed, "labels": LABELS,
           "test_gold": GOLD, "test_pred": pred}
    (run_dir / "result.json").write_text(json.dumps(run), encoding="utf-8")


def test_per_label_differences_trace_a_loss_to_its_label(tmp_path: Path) -> None:
    _write_run(tmp_path, "none", GOLD)
    _write_run(tmp_path, "input-norms", [[c for c in row if c != 2] for row in GOLD])  # never predicts relief
    summary = write(tmp_path)
    rows = {row["label"]: row for row in summary["per_label"]}
    assert rows["joy"]["difference"] == 0.0 and rows["fear"]["difference"] == 0.0
    assert rows["relief"]["none"] == 1.0 and rows["relief"]["input-norms"] == 0.0
    assert rows["relief"]["ci_high"] == pytest.approx(-1.0) and summary["per_label"][0]["label"] == "relief"
    assert summary["overall"]["exact_match"]["difference"] == pytest.approx(-1 / 3)
    assert summary["labels_per_text"] == {"none": pytest.approx(7 / 6), "input-norms": pytest.approx(5 / 6)}
    assert "| relief | 10 | 1.000 | 0.000 | -100.00 [-100.00, -100.00] |" in (tmp_path / "per_label.md").read_text()
    assert json.loads((tmp_path / "per_label.json").read_text())["seeds"] == [1]


def test_no_paired_seed_stops_the_report(tmp_path: Path) -> None:
    _write_run(tmp_path, "none", GOLD, seed=1)
    _write_run(tmp_path, "input-norms", GOLD, seed=2)
    with pytest.raises(SystemExit, match="no seed has both"):
        write(tmp_path)
    assert not (tmp_path / "per_label.md").exists()
