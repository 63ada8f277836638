"""The shared four-emotion label space of the transfer study: label counts per split of each bundled data set under
the shipped `four-emotions` label map, with the rows each map drops.

Each data set is read through the real command line (`sensoryt5 data describe NAME --label-map four-emotions
--json --no-coverage`), so the table shows what a training run with `--label-map four-emotions` sees. Writes
results/next-checks/transfer/label_spaces.md.

    python -m experiments.label_spaces
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sensoryt5.atomic import atomic_open
from sensoryt5.data import SPLITS
from sensoryt5.reproduce import machine

DATASETS = ("isear", "emoint", "goemotions", "empathetic_dialogues")
MAP = "four-emotions"
OUTPUT = Path("results/next-checks/transfer/label_spaces.md")
COMMAND = "PYTHONPATH=src OMP_NUM_THREADS=1 python -m experiments.label_spaces"


def describe(name: str) -> dict[str, Any]:
    """`sensoryt5 data describe NAME --label-map four-emotions --json --no-coverage`, parsed."""
    result = subprocess.run([sys.executable, "-m", "sensoryt5", "data", "describe", name, "--label-map", MAP,
                             "--json", "--no-coverage"], capture_output=True, text=True, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(result.stdout)


def section(name: str, summary: dict[str, Any]) -> list[str]:
    """The Markdown of one data set: its command, label counts per split and the rows its map dropped."""
    counts = summary["label_counts"]
    lines = [f"## {name}", "", "```bash", f"sensoryt5 data describe {name} --label-map {MAP}", "```", "",
             "| label | " + " | ".join(SPLITS) + " | total |", "|---|" + "---:|" * (len(SPLITS) + 1)]
    for label in summary["labels"]:
        row = [counts[split][label] for split in SPLITS]
        lines.append(f"| {label} | " + " | ".join(f"{n:,}" for n in row) + f" | {sum(row):,} |")
    sizes = [summary["splits"][split] for split in SPLITS]
    lines.append("| **rows** | " + " | ".join(f"{n:,}" for n in sizes) + f" | {sum(sizes):,} |")
    dropped = summary["report"].get("dropped_by_label_map", {})
    lines.append("")
    if not dropped:
        lines.append("The map drops no label (it names each label as itself).")
    else:
        labels = sorted({label for split in dropped.values() for label in split["labels"]})
        total = sum(split["rows"] for split in dropped.values())
        per_split = ", ".join(f"{split} {dropped[split]['rows']:,}" for split in SPLITS if split in dropped)
        lines.append(f"Dropped by the map: {total:,} rows ({per_split}) with labels {', '.join(labels)}.")
    multi = summary["report"].get("dropped_multi_label_rows")
    if multi:
        lines.append(f"Before the map, the bundled loader keeps only rows with exactly one label: "
                     f"{sum(multi.values()):,} multi-label rows are not in {name} (the `{name}-multilabel` set).")
    return [*lines, ""]


def main() -> None:
    """Describe the four data sets under the shipped map and write the report."""
    hardware = machine()
    lines = ["# The shared four-emotion label space (anger, fear, joy, sadness)", "",
             f"Written by `{COMMAND}` (experiments/label_spaces.py) on {hardware['cpu']}, {hardware['cores']} cores, "
             "CPU only. Each table is the output of the command above it (`--json --no-coverage` in the script). "
             "The mappings and why each label is kept or dropped: "
             "src/sensoryt5/resources/label_maps/SOURCE.md. Label ids follow the sorted label names, the same in "
             "every split.", ""]
    for name in DATASETS:
        lines += section(name, describe(name))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(OUTPUT) as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
