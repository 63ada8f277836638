"""The fusion report pairs leave-one-sense-out runs with the six-sense run of the same seed on the same device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.fusion_report import build, without
from sensoryt5.norms import PERCEPTUAL

GOLD = [0, 1] * 10
H200 = {"cpu": "Intel(R) Xeon(R) Processor", "cores": 16, "gpu": "NVIDIA H200"}
CPU = {"cpu": "AMD EPYC", "cores": 2, "gpu": None}


def _write_run(folder: Path, key: str, machine: dict, correct: int) -> None:
    """A finished ISEAR run, seed 1, whose first `correct` of 20 test predictions are right."""
    pred = GOLD[:correct] + [1 - g for g in GOLD[correct:]]
    run = {"dataset": "isear", "variant_key": key, "seed": 1, "machine": machine, "test_gold": GOLD,
           "test_pred": pred, "test": {"macro_f1": correct / 20}, "dev": {"macro_f1": correct / 20}}
    path = folder / "runs" / "isear" / key / "seed1" / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(run), encoding="utf-8")


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The study folder (H200 `none` and six-sense runs, CPU removal runs and a CPU `gate` run) and a CPU six-sense
    reference."""
    study, reference = tmp_path / "study", tmp_path / "reference"
    _write_run(study, "none", H200, 10)
    _write_run(study, "input-norms", H200, 10)
    _write_run(study, "gate-norms", CPU, 20)
    for sense in PERCEPTUAL:
        _write_run(study, without("input", sense), CPU, 20)
    _write_run(reference, "input-norms", CPU, 20)
    return study, reference


def test_removals_are_not_compared_across_devices(folders: tuple[Path, Path], tmp_path: Path) -> None:
    study, _ = folders
    summary = build(study, tmp_path / "report")
    assert summary["leave_one_sense_out"] == {}
    assert "## Leave one sense out" not in (tmp_path / "report" / "RESULTS.md").read_text(encoding="utf-8")


def test_a_same_device_reference_is_used(folders: tuple[Path, Path], tmp_path: Path) -> None:
    study, reference = folders
    summary = build(study, tmp_path / "report", (reference,))
    cells = summary["leave_one_sense_out"]["input"]["isear"]
    assert set(cells) == set(PERCEPTUAL)
    assert {(c["difference"], c["dev_difference"]) for c in cells.values()} == {(0.0, 0.0)}
    text = (tmp_path / "report" / "RESULTS.md").read_text(encoding="utf-8")
    assert "| isear | 1 | AMD EPYC (2 cores) | dev | " + " | ".join(["+0.00"] * 6) + " |" in text
    assert (tmp_path / "report" / "loso_heatmap_input.png").stat().st_size > 0
    assert summary["datasets"]["isear"]["input-norms"]["test_macro_f1"] == [0.5]


def test_variants_are_compared_with_none_on_the_same_device(folders: tuple[Path, Path], tmp_path: Path) -> None:
    study, _ = folders
    rows = build(study, tmp_path / "report")["datasets"]["isear"]
    assert rows["input-norms"]["vs_none"]["difference"] == 0.0
    assert rows["gate-norms"]["vs_none"] is None


def test_norms_are_compared_with_random_values_of_the_same_fusion(folders: tuple[Path, Path], tmp_path: Path) -> None:
    study, _ = folders
    _write_run(study, "input-random", H200, 14)  # test macro-F1 0.70 against 0.50 with the norms
    summary = build(study, tmp_path / "report")
    cell = summary["norms_minus_random"]["input"]["isear"]
    assert cell["difference"] == pytest.approx(-0.2) and len(cell["seeds"]) == 1
    assert set(summary["norms_minus_random"]) == {"input"}
    assert summary["random_below_norms"] == {"isear": False}
    assert "| input | test | -20.00 [" in (tmp_path / "report" / "RESULTS.md").read_text(encoding="utf-8")


def test_zeroed_senses_get_their_own_table(folders: tuple[Path, Path], tmp_path: Path) -> None:
    study, reference = folders
    for sense in PERCEPTUAL:
        _write_run(reference, without("input", sense, "zeroed"), CPU, 19 if sense == "visual" else 20)
    summary = build(study, tmp_path / "report", (reference,))
    zeroed = summary["leave_one_sense_zeroed"]["input"]["isear"]
    assert zeroed["visual"]["difference"] < 0 and zeroed["haptic"]["difference"] == 0.0
    assert summary["leave_one_sense_out"]["input"]["isear"]["visual"]["difference"] == 0.0
    text = (tmp_path / "report" / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Leave one sense out (input, sense zeroed)" in text
    assert "## Leave one sense out (input, sense removed)" in text
    assert (tmp_path / "report" / "loso_zeroed_heatmap_input.png").stat().st_size > 0
