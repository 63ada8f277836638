"""The part-2 table on full training sets: each variant's mean test macro-F1 and the six paired differences from
result.json files, pairing only runs of one seed made on one device, and a clear stop when there are no runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.nrc_report import write

GOLD = [0, 1, 2] * 10
NO_TWOS = [0, 1, 0] * 10  # label 2 always predicted as 0: macro-F1 (2/3 + 1 + 0) / 3 = 5/9
CPU, GPU = {"cpu": "AMD EPYC", "cores": 2}, {"cpu": "Intel Xeon", "cores": 16, "gpu": "NVIDIA H200"}


def _write_run(folder: Path, key: str, pred: list[int], seed: int = 1, machine: dict | None = None) -> None:
    run_dir = folder / "runs" / "isear" / key / f"seed{seed}"
    run_dir.mkdir(parents=True)
    macro_f1 = 1.0 if pred == GOLD else 5 / 9
    run = {"dataset": "isear", "variant_key": key, "seed": seed, "machine": machine or CPU, "test_gold": GOLD,
           "test_pred": pred, "test": {"macro_f1": macro_f1}, "dev": {"macro_f1": macro_f1}, "wall_time_s": 10.0,
           "epochs_run": 3.0}
    (run_dir / "result.json").write_text(json.dumps(run), encoding="utf-8")


def test_every_pair_is_a_paired_difference_of_one_seed_on_one_device(tmp_path: Path) -> None:
    _write_run(tmp_path, "none", NO_TWOS)
    _write_run(tmp_path, "input-norms", GOLD)
    _write_run(tmp_path, "input-random", NO_TWOS)
    _write_run(tmp_path, "input-random", GOLD, seed=2, machine=GPU)
    _write_run(tmp_path, "input-norms-nrc-emolex", GOLD)
    _write_run(tmp_path, "input-norms-nrc-emolex", NO_TWOS, seed=2)  # its seed-2 partner ran on another device
    cells = write(tmp_path)
    pairs = cells["isear"]["pairs"]
    assert pairs["input-norms - none"]["difference"] == pytest.approx(4 / 9)
    assert pairs["input-norms - none"]["ci_low"] > 0 and pairs["input-norms - input-random"]["ci_low"] > 0
    assert pairs["input-random - none"]["difference"] == 0.0
    assert pairs["input-norms-nrc-emolex - input-random"]["seeds"] == [(1, "AMD EPYC (2 cores)")]
    assert pairs["input-norms-nrc-emolex - input-random"]["difference"] == pytest.approx(4 / 9)
    assert pairs["input-norms-nrc-emolex - input-norms"]["difference"] == 0.0
    assert cells["isear"]["variants"]["input-norms-nrc-emolex"]["mean"] == pytest.approx((1 + 5 / 9) / 2)
    table = (tmp_path / "table.md").read_text()
    assert "| isear | 1,2 | 0.5556 (1) | 1.0000 (1) | 0.7778 (2) | 0.7778 (2) | +44.44 [" in table
    assert json.loads((tmp_path / "table.json").read_text())["isear"]["variants"]["none"]["seeds"] == [1]


def test_no_runs_stops_the_report(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no finished runs"):
        write(tmp_path)
    assert not (tmp_path / "table.md").exists()
