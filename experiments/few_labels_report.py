"""The few-labels learning curve (issue 23, part 3): RESULTS.md and learning_curve.png from the runs of
`experiments/few_labels.sh` (results/next-checks/few-labels/n<N>/runs).

For each data set and N examples per class: each variant's mean test macro-F1 over its seeds, and the paired
bootstrap 95% interval (over test items, seeds paired, same device) of `input` with the norms minus `none`, with
random values minus `none`, norms minus random values, and the NRC Emotion Lexicon (`--lexicon nrc-emolex`) minus
`none`, minus random values and minus the norms. Rebuilt from every finished run, so it can be rerun as the queue
goes on.

    python -m experiments.few_labels_report [--folder results/next-checks/few-labels]
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path
from typing import Any

from experiments.fusion_report import _interval, by_key, compare
from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.reproduce import load_results

VARIANTS = {"none": "none", "input-norms": "input, norms", "input-random": "input, random values",
            "input-norms-nrc-emolex": "input, NRC"}
SHORT = {"none": "none", "input-norms": "norms", "input-random": "random", "input-norms-nrc-emolex": "NRC"}
PAIRS = (("input-norms", "none"), ("input-random", "none"), ("input-norms", "input-random"),
         ("input-norms-nrc-emolex", "none"), ("input-norms-nrc-emolex", "input-random"),
         ("input-norms-nrc-emolex", "input-norms"))
COLOR = {key: f"C{i}" for i, key in enumerate(VARIANTS)}  # one colour per variant in both panels of the plot


def cell(table: dict, dataset: str) -> dict[str, Any]:
    """{"variants": {key: {mean, seeds, wall_s, epochs}}, "pairs": {"a - b": comparison}} of one data set's runs."""
    out: dict[str, Any] = {"variants": {}, "pairs": {}}
    for key in VARIANTS:
        runs = table.get((dataset, key), {})
        if runs:
            out["variants"][key] = {
                "mean": statistics.mean(r["test"]["macro_f1"] for r in runs.values()),
                "seeds": sorted(seed for seed, _ in runs),
                "wall_s": sum(r["wall_time_s"] for r in runs.values()),
                "epochs": [r["epochs_run"] for r in runs.values()],
            }
    for a, b in PAIRS:
        comparison = compare(table, dataset, a, b)
        if comparison is not None:
            out["pairs"][f"{a} - {b}"] = comparison
    return out


def curve(folder: Path) -> dict[str, Any]:
    """{dataset: {N: cell}} of every n<N> folder's runs."""
    out: dict[str, Any] = {}
    for sub in sorted(folder.glob("n*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0)):
        if not (sub / "runs").is_dir():
            continue
        results = load_results(sub)
        table = by_key(results)
        for dataset in sorted({r["dataset"] for r in results}):
            out.setdefault(dataset, {})[int(sub.name[1:])] = cell(table, dataset)
    return out


def plot(data: dict[str, Any], path: Path) -> None:
    """Per data set: mean test macro-F1 against examples per class (top), and each variant − none with
    their paired 95% intervals (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(data)
    fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 7), squeeze=False, sharex=True)
    for col, dataset in enumerate(datasets):
        ns = sorted(data[dataset])
        top, bottom = axes[0][col], axes[1][col]
        for key, label in VARIANTS.items():
            points = [(n, data[dataset][n]["variants"][key]["mean"]) for n in ns if key in data[dataset][n]["variants"]]
            if points:
                top.plot(*zip(*points), marker="o", label=label, color=COLOR[key])
        against_none = [(a, f"{a} - {b}", f"{SHORT[a]} − none") for a, b in PAIRS if b == "none"]
        for offset, (key, pair, label) in enumerate(against_none):
            rows = [(n, data[dataset][n]["pairs"][pair]) for n in ns if pair in data[dataset][n]["pairs"]]
            if rows:
                x = [n * (0.94 + 0.06 * offset) for n, _ in rows]
                y = [100 * c["difference"] for _, c in rows]
                err = [[100 * (c["difference"] - c["ci_low"]) for _, c in rows],
                       [100 * (c["ci_high"] - c["difference"]) for _, c in rows]]
                bottom.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=label, color=COLOR[key])
        bottom.axhline(0, color="grey", linestyle="--", linewidth=1)
        top.set_title(dataset)
        top.set_ylabel("test macro-F1 (mean over seeds)")
        bottom.set_ylabel("difference in points (paired 95% CI)")
        bottom.set_xlabel("training examples per class")
        bottom.set_xscale("log", base=2)
        bottom.set_xticks(ns, [str(n) for n in ns])
        top.legend(fontsize=8)
        bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def header(first: list[str], rules: list[str]) -> list[str]:
    """The table's two header lines: the `first` columns (with their `rules`, e.g. "---:"), then each variant's
    mean and each pair's difference."""
    return ["| " + " | ".join(first) + " | " + " | ".join(VARIANTS.values()) + " | "
            + " | ".join(f"{SHORT[a]} − {SHORT[b]}" for a, b in PAIRS) + " |",
            "|" + "".join(f"{r}|" for r in rules) + "---:|" * len(VARIANTS) + "---|" * len(PAIRS)]


def row(first: list[str], cell: dict[str, Any]) -> str:
    """One table row: the `first` columns, then each variant's mean (seeds) and each pair's difference [CI] (seeds)."""
    variants = cell["variants"]
    means = [f"{variants[k]['mean']:.4f} ({len(variants[k]['seeds'])})" if k in variants else "–" for k in VARIANTS]
    pairs = [_interval(cell["pairs"][f"{a} - {b}"]) + f" ({len(cell['pairs'][f'{a} - {b}']['seeds'])})"
             if f"{a} - {b}" in cell["pairs"] else "–" for a, b in PAIRS]
    return "| " + " | ".join(first + means + pairs) + " |"


def seeds_of(cell: dict[str, Any]) -> str:
    """The seeds any variant of a cell has, e.g. "1,2,3"."""
    return ",".join(map(str, sorted({s for v in cell["variants"].values() for s in v["seeds"]})))


def markdown(data: dict[str, Any]) -> str:
    """The RESULTS.md table: one row per data set and N."""
    lines = header(["data set", "per class", "seeds"], ["---", "---:", "---"])
    for dataset, by_n in data.items():
        for n, cell in sorted(by_n.items()):
            lines.append(row([dataset, str(n), seeds_of(cell)], cell))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("results/next-checks/few-labels"))
    args = parser.parse_args()
    data = curve(args.folder)
    write_json(args.folder / "curve.json", {d: {str(n): c for n, c in by_n.items()} for d, by_n in data.items()})
    plot(data, args.folder / "learning_curve.png")
    with atomic_open(args.folder / "table.md") as handle:
        handle.write(markdown(data) + "\n")
    print(markdown(data))


if __name__ == "__main__":
    main()
