"""The transfer report: in-domain scores from result.json, out-of-domain ones from transfer.json, drops and paired
differences computed per target, and no silent skip of a run whose model and cache are gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.transfer_report import TARGETS, main, markdown, summary

GOLD = [0, 1, 2, 3] * 5
CPU = {"cpu": "AMD EPYC", "cores": 2, "gpu": None}


def _predictions(correct: int) -> list[int]:
    """The first `correct` of 20 predictions right, the others shifted by one class."""
    return GOLD[:correct] + [(g + 1) % 4 for g in GOLD[correct:]]


def _write_run(folder: Path, key: str, correct: dict[str, int], cache: bool = True) -> Path:
    """A finished ISEAR-4 run (seed 1) with `correct[target]` right predictions on each target."""
    run_dir = folder / "runs" / "isear" / key / "seed1"
    run_dir.mkdir(parents=True)
    run = {"dataset": "isear", "variant_key": key, "seed": 1, "machine": CPU, "labels": ["a", "b", "c", "d"],
           "test_gold": GOLD, "test_pred": _predictions(correct["isear"]), "test": {}, "dev": {}, "wall_time_s": 1.0}
    (run_dir / "result.json").write_text(json.dumps(run), encoding="utf-8")
    if cache:
        transfer = {t: {"gold": GOLD, "pred": _predictions(correct[t])} for t in TARGETS if t != "isear"}
        (run_dir / "transfer.json").write_text(json.dumps(transfer), encoding="utf-8")
    return run_dir


def test_drops_and_differences_per_target(tmp_path: Path) -> None:
    everything = {t: 20 for t in TARGETS}
    _write_run(tmp_path, "none", {**everything, "goemotions": 10})
    _write_run(tmp_path, "input-norms", everything)
    data = summary(tmp_path)["isear"]
    none, norms = data["variants"]["none"], data["variants"]["input-norms"]
    assert none["macro_f1"]["isear"] == 1.0 and none["macro_f1"]["goemotions"] < 1.0
    assert none["drop"] == pytest.approx(1.0 - none["out_of_domain"]) and none["drop"] > 0
    assert norms["drop"] == 0.0
    pair = data["pairs"]["input-norms - none"]
    assert pair["isear"]["difference"] == 0.0 and pair["emoint"]["difference"] == 0.0
    assert pair["goemotions"]["difference"] == pytest.approx(1.0 - none["macro_f1"]["goemotions"])
    assert pair["goemotions"]["ci_low"] <= pair["goemotions"]["difference"] <= pair["goemotions"]["ci_high"]
    assert pair["drop"]["difference"] == pytest.approx(-none["drop"])
    assert "input-random - none" not in data["pairs"]
    text = markdown(summary(tmp_path))
    assert "| ISEAR-4 | none | 1 | **100.00** |" in text
    assert "| ISEAR-4 | input, norms − none | 1 | +0.00 [+0.00, +0.00] | +0.00 [+0.00, +0.00] |" in text


def test_a_run_without_model_or_cache_stops_the_report(tmp_path: Path) -> None:
    _write_run(tmp_path, "none", {t: 20 for t in TARGETS}, cache=False)
    with pytest.raises(SystemExit, match="no model folder to test on emoint, goemotions, empathetic_dialogues"):
        summary(tmp_path)


def test_run_mode_tests_one_run_and_names_it_when_its_model_is_gone(tmp_path: Path) -> None:
    cached = _write_run(tmp_path / "a", "none", {t: 20 for t in TARGETS})
    before = (cached / "transfer.json").read_text(encoding="utf-8")
    main(["--run", str(cached)])
    assert (cached / "transfer.json").read_text(encoding="utf-8") == before
    assert not (tmp_path / "a" / "table.md").exists()
    bare = _write_run(tmp_path / "b", "none", {t: 20 for t in TARGETS}, cache=False)
    with pytest.raises(SystemExit, match=f"{bare}: no model folder"):
        main(["--run", str(bare)])


def test_pending_names_only_the_sources_not_yet_tested_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                  ) -> None:
    _write_run(tmp_path, "none", {t: 20 for t in TARGETS})
    partial = _write_run(tmp_path / "partial", "none", {t: 20 for t in TARGETS})
    (partial / "transfer.json").write_text(json.dumps({"emoint": {"gold": GOLD, "pred": GOLD}}), encoding="utf-8")
    main(["--folder", str(tmp_path), "--pending", "isear,emoint", "--variant", "none", "--seed", "1"])
    assert capsys.readouterr().out.strip() == "emoint"
    main(["--folder", str(tmp_path / "partial"), "--pending", "isear", "--variant", "none", "--seed", "1"])
    assert capsys.readouterr().out.strip() == "isear"
    main(["--folder", str(tmp_path), "--pending", "isear", "--variant", "input-norms", "--seed", "1"])
    assert capsys.readouterr().out.strip() == "isear"


def test_the_nrc_lexicon_run_pairs_with_the_other_variants(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    everything = {t: 20 for t in TARGETS}
    _write_run(tmp_path, "none", {**everything, "emoint": 10})
    _write_run(tmp_path, "input-norms-nrc-emolex", everything)
    data = summary(tmp_path)["isear"]
    assert sorted(data["pairs"]) == ["input-norms-nrc-emolex - none"]
    assert data["pairs"]["input-norms-nrc-emolex - none"]["emoint"]["difference"] > 0
    assert "| ISEAR-4 | input, NRC EmoLex − none | 1 |" in markdown(summary(tmp_path))
    main(["--folder", str(tmp_path), "--pending", "isear", "--variant", "input-norms-nrc-emolex", "--seed", "1"])
    assert capsys.readouterr().out.strip() == ""
