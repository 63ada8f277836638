"""The GoEmotions follow-up on a GPU reuses only runs of the same GPU and plans each reference before its pairs."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.gpu_goemotions import plan, reuse


def _write_run(folder: Path, key: str, seed: int, gpu: str | None) -> None:
    path = folder / "runs" / "goemotions" / key / f"seed{seed}" / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"machine": {"cpu": "x", "cores": 2, "gpu": gpu}}), encoding="utf-8")


def test_reuse_copies_only_runs_made_on_the_same_gpu(tmp_path: Path) -> None:
    source, target = tmp_path / "repo", tmp_path / "device"
    _write_run(source, "none", 1, "NVIDIA H200")
    _write_run(source, "none", 2, None)
    _write_run(source, "paper-norms", 1, "NVIDIA H100 80GB HBM3")
    assert reuse(source, target, "NVIDIA H200") == 1
    assert [p.relative_to(target).as_posix() for p in target.rglob("result.json")] == [
        "runs/goemotions/none/seed1/result.json"]


def test_every_planned_run_comes_after_the_reference_it_is_compared_with() -> None:
    jobs = [(dataset, variant.key, seed) for dataset, variant, seed in plan()]
    assert len(jobs) == len(set(jobs))
    for position, (dataset, key, seed) in enumerate(jobs):
        if key == "none":
            continue
        references = ["input-norms"] if "-zero_" in key else ["none"]
        if key.endswith("-random"):
            references.append(key.replace("-random", "-norms"))
        for reference in references:
            assert (dataset, reference, seed) in jobs[:position], (dataset, key, reference, seed)
    assert {seed for _, _, seed in jobs[:12]} == {1}  # seed 1 pairs with the runs already made on the H200
