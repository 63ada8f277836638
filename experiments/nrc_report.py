"""A second lexicon on full training sets with their own labels (issue 23, part 2): table.md and table.json from the
runs of `experiments/nrc_full.sh` (results/next-checks/nrc/runs).

Per data set: each variant's mean test macro-F1 (`none`, `input` with the norms, with random values, with the NRC
Emotion Lexicon) and the paired bootstrap 95% intervals (over test items, seeds paired, one device) of the same six
differences as the few-labels table. Rebuilt from every finished run, so it can be rerun as the queue goes on.

    python -m experiments.nrc_report [--folder results/next-checks/nrc]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from experiments.few_labels_report import cell, header, row, seeds_of
from experiments.fusion_report import by_key
from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.reproduce import load_results


def write(folder: Path) -> dict[str, Any]:
    """{dataset: cell} of the finished runs under `folder/runs`, also written to folder/table.json and table.md."""
    results = load_results(folder)
    if not results:
        raise SystemExit(f"no finished runs under {folder / 'runs'}: run experiments/nrc_full.sh first")
    table = by_key(results)
    cells = {dataset: cell(table, dataset) for dataset in sorted({r["dataset"] for r in results})}
    write_json(folder / "table.json", cells)
    lines = header(["data set", "seeds"], ["---", "---"]) + [row([d, seeds_of(c)], c) for d, c in cells.items()]
    with atomic_open(folder / "table.md") as handle:
        handle.write("\n".join(lines) + "\n")
    return cells


def main() -> None:
    """Build the table of the folder given (default results/next-checks/nrc) and print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("results/next-checks/nrc"))
    args = parser.parse_args()
    write(args.folder)
    print((args.folder / "table.md").read_text(encoding="utf-8"), end="")


if __name__ == "__main__":
    main()
