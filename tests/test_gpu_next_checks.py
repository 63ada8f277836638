"""The issue-23 GPU grids: one folder per part, the transfer runs relabelled and kept for cross-testing, the NRC runs
without an OOV regressor, and a transfer run counted done only once it was tested on every target."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.gpu_next_checks import NORMS, NRC, configs, transfer_done
from experiments.transfer_report import TARGETS


def _args(tmp_path: Path) -> argparse.Namespace:
    return argparse.Namespace(results=tmp_path, out=tmp_path / "out", workers=1, deadline_s=1.0, epochs=3.0,
                              batch_size=32, backbone="minilm", max_train_samples=None)


def test_each_grid_has_its_folder_and_settings(tmp_path: Path) -> None:
    grids = configs(_args(tmp_path))
    assert grids["transfer"].folder == tmp_path / "next-checks" / "gpu" / "transfer"
    assert grids["transfer"].training.label_map == "four-emotions" and grids["transfer"].keep_models
    assert grids["nrc"].folder == grids["nrc-no-oov"].folder == tmp_path / "next-checks" / "gpu" / "nrc"
    assert grids["nrc"].training.oov_embedder == "minilm" and grids["nrc-no-oov"].training.oov_embedder is None
    assert grids["nrc"].training.label_map is None
    assert NRC.key == "input-norms-nrc-emolex"


def test_a_transfer_run_is_done_only_when_tested_on_the_targets(tmp_path: Path) -> None:
    config = configs(_args(tmp_path))["transfer"]
    run_dir = config.folder / "runs" / "isear" / NORMS.key / "seed1"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text("{}", encoding="utf-8")
    assert not transfer_done(config, ("isear", NORMS, 1))
    (run_dir / "transfer.json").write_text(json.dumps({"emoint": {}, "goemotions": {}}), encoding="utf-8")
    assert not transfer_done(config, ("isear", NORMS, 1))
    (run_dir / "transfer.json").write_text(json.dumps({t: {} for t in TARGETS if t != "isear"}), encoding="utf-8")
    assert transfer_done(config, ("isear", NORMS, 1))
