"""The fusion study's report: results/fusion/RESULTS.md and the leave-one-sense-out heat map.

Reads the finished runs of a reproduction folder (default results/minilm, written by `sensoryt5 reproduce` or
`experiments.gpu_study`) and writes, per data set, every fusion variant's test macro-F1 (mean ± std over seeds) with
the paired bootstrap 95% CI of its difference to `none`, each fusion with the norms minus the same fusion fed random
values, the recommended fusion (chosen on dev only), the random-values control, the screening ranking on ISEAR and
EmoInt, the leave-one-sense-out tables and heat maps (a sense's column removed, or its values set to zero), and the
hand-written conclusion in `experiments/fusion_conclusion.md`. A leave-one-sense-out run is compared only with the
six-sense run of the same seed made on the same device; `--reference` adds folders of such six-sense runs.

    python -m experiments.fusion_report --runs results/minilm --output results/fusion --reference results/minilm-cpu
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.fusion import FUSIONS
from sensoryt5.metrics import paired_bootstrap
from sensoryt5.norms import PERCEPTUAL
from sensoryt5.reproduce import Variant, load_results

DATASETS = ["isear", "emoint", "empathetic_dialogues", "goemotions"]
SCREENING = ["isear", "emoint"]
CONCLUSION = Path(__file__).with_name("fusion_conclusion.md")
# how a sense is left out → (results.json key, heat map file prefix, what it means for the model)
ABLATIONS = {
    "removed": ("leave_one_sense_out", "loso_heatmap",
                "its column removed: a five-sense model, whose classifier head is initialised differently from the "
                "six-sense model's"),
    "zeroed": ("leave_one_sense_zeroed", "loso_zeroed_heatmap",
               "its values set to zero for every word: the six-sense model's shape, initialisation and random "
               "stream, so only the sense's values differ"),
}


def by_key(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[tuple[int, str], dict[str, Any]]]:
    """(data set, variant key) → (seed, device) → run, so that comparisons pair only runs made on the same device."""
    table: dict[tuple[str, str], dict[tuple[int, str], dict[str, Any]]] = {}
    for r in results:
        table.setdefault((r["dataset"], r["variant_key"]), {})[(r["seed"], device(r))] = r
    return table


def compare(table: dict, dataset: str, key: str, reference: str) -> dict[str, Any] | None:
    """Mean test/dev macro-F1 of `key` minus `reference` over their common seeds, with the paired bootstrap CI."""
    runs, base = table.get((dataset, key), {}), table.get((dataset, reference), {})
    seeds = sorted(set(runs) & set(base))
    if not seeds:
        return None
    gold = np.asarray(runs[seeds[0]]["test_gold"])
    ci = paired_bootstrap(gold, [np.asarray(runs[s]["test_pred"]) for s in seeds],
                          [np.asarray(base[s]["test_pred"]) for s in seeds])
    dev_gain = statistics.mean(runs[s]["dev"]["macro_f1"] - base[s]["dev"]["macro_f1"] for s in seeds)
    return {**ci, "seeds": seeds, "dev_difference": dev_gain}


def _interval(comparison: dict[str, Any]) -> str:
    """A comparison's test difference and its 95% CI in points, e.g. "+0.51 [-1.20, +2.01]"."""
    return (f"{100 * comparison['difference']:+.2f} [{100 * comparison['ci_low']:+.2f}, "
            f"{100 * comparison['ci_high']:+.2f}]")


def _cell(runs: dict[int, dict[str, Any]]) -> str:
    values = [r["test"]["macro_f1"] for r in runs.values()]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f} (n={len(values)})"


def recommend(table: dict, datasets: list[str]) -> tuple[str | None, dict[str, float]]:
    """The fusion with the largest mean dev macro-F1 gain over `none`, among those run on every data set."""
    gains: dict[str, float] = {}
    for fusion in FUSIONS:
        deltas = [c["dev_difference"] for d in datasets if (c := compare(table, d, f"{fusion}-norms", "none"))]
        if len(deltas) == len(datasets):
            gains[fusion] = statistics.mean(deltas)
    best = max(gains, key=gains.get) if gains else None
    return best, gains


def heat_map(deltas: dict[str, dict[str, float]], path: Path, title: str) -> None:
    """Data set × left-out sense → Δ test macro-F1 (points) of leaving that sense out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(deltas)
    matrix = np.array([[deltas[d].get(s, np.nan) for s in PERCEPTUAL] for d in datasets])
    limit = max(1.0, float(np.nanmax(np.abs(matrix)))) if np.isfinite(matrix).any() else 1.0
    fig, ax = plt.subplots(figsize=(9, 2.4 + 0.7 * len(datasets)))
    image = ax.imshow(matrix, cmap="RdBu", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(PERCEPTUAL)), [f"no {s}" for s in PERCEPTUAL], rotation=30, ha="right")
    ax.set_yticks(range(len(datasets)), datasets)
    for i in range(len(datasets)):
        for j in range(len(PERCEPTUAL)):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:+.2f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(matrix[i, j]) > limit / 2 else "black")
    ax.set_title(f"{title}: Δ test macro-F1 (points) vs all six senses", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def screen(table: dict) -> list[tuple[str, float, float]]:
    """(fusion, mean dev gain over `none`, mean dev gain over its random control) on the screening data sets, best
    first; only fusions run with norms and random values on every screening data set."""
    ranked = []
    for fusion in FUSIONS:
        vs_none = [compare(table, d, f"{fusion}-norms", "none") for d in SCREENING]
        vs_random = [compare(table, d, f"{fusion}-norms", f"{fusion}-random") for d in SCREENING]
        if all(vs_none) and all(vs_random):
            ranked.append((fusion, statistics.mean(c["dev_difference"] for c in vs_none),
                           statistics.mean(c["dev_difference"] for c in vs_random)))
    return sorted(ranked, key=lambda row: -row[1])


def norms_minus_random(table: dict, datasets: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """fusion → data set → each fusion with the norms minus the same fusion fed random values (same seeds and
    device), for every fusion and data set that have both."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for fusion in FUSIONS:
        cells = {d: c for d in datasets if (c := compare(table, d, f"{fusion}-norms", f"{fusion}-random"))}
        if cells:
            out[fusion] = cells
    return out


def leave_one_sense_out(table: dict, datasets: list[str], how: str = "removed"
                        ) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """fusion → data set → left-out sense → Δ macro-F1 (points) against the same fusion with all six senses: test
    difference with its paired bootstrap 95% CI, the dev difference, and the (seed, device) pairs behind them.
    `how` is "removed" (the sense's column dropped) or "zeroed" (the sense set to zero for every word)."""
    found: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for fusion in FUSIONS:
        for dataset in datasets:
            for sense in PERCEPTUAL:
                c = compare(table, dataset, without(fusion, sense, how), f"{fusion}-norms")
                if c:
                    points = {key: round(100 * c[key], 2) for key in ("difference", "ci_low", "ci_high",
                                                                       "dev_difference")}
                    found.setdefault(fusion, {}).setdefault(dataset, {})[sense] = {**points, "pairs": c["seeds"]}
    return found


def loso_section(loso: dict[str, dict[str, dict[str, dict[str, Any]]]], how: str, image_prefix: str,
                 explanation: str, output: Path) -> list[str]:
    """RESULTS.md lines of one kind of leave-one-sense-out (a table per fusion), writing each fusion's heat map."""
    lines: list[str] = []
    for fusion, deltas in loso.items():
        image = f"{image_prefix}_{fusion}.png"
        title = f"Leave one sense out ({fusion}, sense {how})"
        heat_map({d: {sense: c["difference"] for sense, c in cells.items()} for d, cells in deltas.items()},
                 output / image, title)
        lines += ["", f"## {title}", "", f"Δ test macro-F1 (points) of leaving one sense out of `{fusion}-norms` "
                  f"({explanation}), paired with the six-sense run of the same seed on the same device "
                  "(negative: the sense helped); test with its paired bootstrap 95% CI, and dev.", "",
                  "| data set | pairs (fewest of a cell) | device | split | "
                  + " | ".join(f"no {s}" for s in PERCEPTUAL) + " |", "|---|---|---|---|" + "---|" * len(PERCEPTUAL)]
        for dataset, cells in deltas.items():
            pairs, devices = loso_pairs(cells)
            test = [f"{c['difference']:+.2f} [{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]" if (c := cells.get(s))
                    else "—" for s in PERCEPTUAL]
            dev = [f"{c['dev_difference']:+.2f}" if (c := cells.get(s)) else "—" for s in PERCEPTUAL]
            lines += [f"| {dataset} | {pairs} | {', '.join(devices)} | test | " + " | ".join(test) + " |",
                      f"| {dataset} | {pairs} | {', '.join(devices)} | dev | " + " | ".join(dev) + " |"]
        lines += ["", f"![leave-one-sense-out heat map]({image})"]
    return lines


def loso_pairs(cells: dict[str, dict[str, Any]]) -> tuple[int, list[str]]:
    """The fewest (seed, device) pairs behind one cell of a leave-one-sense-out row, and the devices of all its
    pairs."""
    return (min(len(c["pairs"]) for c in cells.values()),
            sorted({device for c in cells.values() for _, device in c["pairs"]}))


def device(run: dict[str, Any]) -> str:
    """The GPU a run was made on, else its CPU and core count."""
    return run["machine"].get("gpu") or f"{run['machine']['cpu']} ({run['machine']['cores']} cores)"


def without(fusion: str, sense: str, how: str = "removed") -> str:
    """The variant key of `fusion` with the norms of every perceptual sense but `sense`, its column removed or
    (`how="zeroed"`) set to zero."""
    if how == "zeroed":
        return Variant("norms", fusion, ablate=sense).key
    return Variant("norms", fusion, sensory_dims=",".join(d for d in PERCEPTUAL if d != sense)).key


def build(runs_folder: Path, output: Path, references: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Write RESULTS.md, results.json and one leave-one-sense-out heat map per fusion into `output`; the summary.

    `references` are further run folders (e.g. six-sense runs repeated on another device) that only serve as
    same-device references of the leave-one-sense-out runs."""
    results = load_results(runs_folder)
    table = by_key(results)
    paired = by_key(results + [r for folder in references for r in load_results(folder)])
    output.mkdir(parents=True, exist_ok=True)
    datasets = [d for d in DATASETS if (d, "none") in table]
    best, dev_gains = recommend(table, datasets)
    lines = ["# Fusion study: how should the sensory signal enter the model?", "",
             f"Runs: `{runs_folder}` ({len(results)} finished runs; every run trains on train, selects its epoch on "
             "dev macro-F1 and is tested once). Values are test macro-F1 in points, mean ± std over seeds; Δ is "
             "the difference to `none` (same backbone, no sensory branch) over the seeds both have on the same "
             "device (a run pairs only with a run of the same seed made on the same device), with a paired "
             "bootstrap 95% interval over test items (1,000 resamples). The recommended fusion is chosen on dev "
             "only: the largest mean dev macro-F1 gain over `none` among the fusions run on every data set.", "",
             f"Regenerate: `python -m experiments.fusion_report --runs {runs_folder} --output {output}"
             + "".join(f" --reference {folder}" for folder in references) + "`", ""]
    summary: dict[str, Any] = {"recommended": best, "dev_gain_over_none": dev_gains, "datasets": {}}
    lines += ["## Test macro-F1 per data set and variant", "",
              "| data set | variant | test macro-F1 | Δ vs none [95% CI] | dev Δ |", "|---|---|---|---|---|"]
    for dataset in datasets:
        rows = {}
        keys = ["none"] + [f"{f}-{m}" for f in FUSIONS for m in ("norms", "random")]
        for key in keys:
            runs = table.get((dataset, key))
            if not runs:
                continue
            delta = compare(table, dataset, key, "none") if key != "none" else None
            rows[key] = {"test_macro_f1": [r["test"]["macro_f1"] for r in runs.values()], "vs_none": delta}
            delta_text = _interval(delta) if delta else "—"
            dev_text = f"{100 * delta['dev_difference']:+.2f}" if delta else "—"
            lines.append(f"| {dataset} | {key} | {_cell(runs)} | {delta_text} | {dev_text} |")
        summary["datasets"][dataset] = rows
    control = norms_minus_random(table, datasets)
    summary["norms_minus_random"] = control
    lines += ["", "## Norms minus random values", "",
              "Test macro-F1 (points) of each fusion with the norms minus the same fusion fed random values, over the "
              "seeds both have on the same device, with its paired bootstrap 95% CI; dev below it; pairs in "
              "brackets (positive: the norms beat random values).", "",
              "| fusion | split | " + " | ".join(datasets) + " |", "|---|---|" + "---|" * len(datasets)]
    for fusion, cells in control.items():
        test = [f"{_interval(c)} ({len(c['seeds'])})" if (c := cells.get(d)) else "—" for d in datasets]
        dev = [f"{100 * c['dev_difference']:+.2f}" if (c := cells.get(d)) else "—" for d in datasets]
        lines += [f"| {fusion} | test | " + " | ".join(test) + " |", f"| {fusion} | dev | " + " | ".join(dev) + " |"]
    ranked = screen(table)
    summary["screening"] = [{"fusion": f, "dev_gain_over_none": g, "dev_gain_over_random": r} for f, g, r in ranked]
    lines += ["", "## Screening (ISEAR and EmoInt, dev)", "",
              "Mean dev macro-F1 gain (points) of each fusion with the norms over `none`, and over the same fusion "
              "fed random values; the best two by gain over `none` go on to the confirmation data sets.", "",
              "| rank | fusion | dev gain over none | dev gain over random values |", "|---|---|---|---|"]
    lines += [f"| {i} | {f} | {100 * g:+.2f} | {100 * r:+.2f} |" for i, (f, g, r) in enumerate(ranked, 1)]
    lines += ["", "## Recommended fusion (chosen on dev)", ""]
    lines += ["- mean dev gain over `none`: " + ", ".join(f"{f} {100 * g:+.2f}" for f, g in
                                                            sorted(dev_gains.items(), key=lambda kv: -kv[1]))]
    if best:
        tests = {d: compare(table, d, f"{best}-norms", "none") for d in datasets}
        tests = {d: c for d, c in tests.items() if c}
        mean_gain = statistics.mean(c["difference"] for c in tests.values()) if tests else float("nan")
        above = [d for d, c in tests.items() if c["ci_low"] > 0]
        random_below = {d: c["difference"] > 0 for d, c in control.get(best, {}).items()}
        summary.update(mean_test_gain=mean_gain, ci_above_zero=above, random_below_norms=random_below)
        lines += [f"- recommended: **{best}**; its mean test gain over `none` across {len(tests)} data sets: "
                  f"{100 * mean_gain:+.2f} points (target +1.0); CI above zero on: {', '.join(above) or 'none'}",
                  f"- random values with `{best}` below real norms on: "
                  f"{', '.join(d for d, below in random_below.items() if below) or 'none'} "
                  f"(of {len(random_below)} data sets compared)"]
    for how, (key, image_prefix, explanation) in ABLATIONS.items():
        loso = leave_one_sense_out(paired, datasets, how)
        summary[key] = loso
        lines += loso_section(loso, how, image_prefix, explanation, output)
    if CONCLUSION.is_file():
        lines += ["", "## Conclusion", "", f"_Hand-written in `{CONCLUSION.relative_to(CONCLUSION.parents[1])}`; "
                  "its numbers are those of the tables above._", "", CONCLUSION.read_text(encoding="utf-8").strip()]
    write_json(output / "results.json", summary)
    with atomic_open(output / "RESULTS.md") as handle:
        handle.write("\n".join(lines) + "\n")
    return summary


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("results/minilm"))
    parser.add_argument("--output", type=Path, default=Path("results/fusion"))
    parser.add_argument("--reference", type=Path, action="append", default=[],
                        help="a further run folder whose runs serve only as same-device leave-one-sense-out "
                             "references (repeatable)")
    args = parser.parse_args()
    summary = build(args.runs, args.output, tuple(args.reference))
    print(f"recommended fusion: {summary['recommended']}; report: {args.output / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
