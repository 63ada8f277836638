"""GoEmotions as 28-label multi-label (issue 23, part 6): where `input` with the norms differs from `none`.

`sensoryt5 reproduce` reports test macro-F1 and its paired interval; this adds, over the seeds both variants have,
the paired 95% bootstrap intervals (over test items) of micro-F1 and exact-match accuracy, the mean number of labels
predicted per text, and each label's test F1 with its paired difference, so that a macro-F1 difference can be traced
to the labels that carry it. Writes `per_label.md` and `per_label.json` beside the report.

    python -m experiments.multilabel_report [--folder results/next-checks/goemotions-multilabel]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from experiments.fusion_report import _interval
from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.metrics import accuracy_of, bootstrap_percentiles, paired_bootstrap, per_label_f1
from sensoryt5.reproduce import label_array, load_results

BASELINE, VARIANT = "none", "input-norms"


def micro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Micro-F1 of multi-hot rows [N, C] (scikit-learn's, zero when nothing is predicted or gold)."""
    return float(f1_score(gold, pred, average="micro", zero_division=0))


def compare_runs(runs: list[dict[str, Any]], n_resamples: int = 1000) -> dict[str, Any]:
    """Paired comparisons of VARIANT against BASELINE over the seeds both have (one dataset's runs)."""
    by_variant: dict[str, dict[int, dict[str, Any]]] = {}
    for r in runs:
        by_variant.setdefault(r["variant_key"], {})[r["seed"]] = r
    seeds = sorted(set(by_variant.get(BASELINE, {})) & set(by_variant.get(VARIANT, {})))
    if not seeds:
        raise SystemExit(f"no seed has both a {BASELINE!r} and a {VARIANT!r} run")
    first = by_variant[BASELINE][seeds[0]]
    labels, n_labels = first["labels"], len(first["labels"])
    gold = label_array(first["test_gold"], n_labels).astype(bool)  # [N, C]
    preds = {v: [label_array(by_variant[v][s]["test_pred"], n_labels).astype(bool) for s in seeds]  # S × [N, C]
             for v in (BASELINE, VARIANT)}
    overall = {name: paired_bootstrap(gold, preds[VARIANT], preds[BASELINE], metric, n_resamples)
               for name, metric in (("micro_f1", micro_f1), ("exact_match", accuracy_of))}

    def mean_label_f1(variant: str, idx: np.ndarray) -> np.ndarray:
        return np.mean([per_label_f1(gold[idx], p[idx]) for p in preds[variant]], axis=0)  # [C], mean over seeds

    everything = np.arange(len(gold))
    mean_f1 = {v: mean_label_f1(v, everything) for v in preds}
    low, high = bootstrap_percentiles(len(gold), lambda idx: mean_label_f1(VARIANT, idx) - mean_label_f1(BASELINE, idx),
                                      n_resamples)
    per_label = [{"label": labels[c], "support": int(gold[:, c].sum()), BASELINE: float(mean_f1[BASELINE][c]),
                  VARIANT: float(mean_f1[VARIANT][c]), "difference": float(mean_f1[VARIANT][c] - mean_f1[BASELINE][c]),
                  "ci_low": float(low[c]), "ci_high": float(high[c])} for c in range(n_labels)]
    return {"seeds": seeds, "n_test": int(len(gold)), "gold_labels_per_text": float(gold.sum(axis=1).mean()),
            "labels_per_text": {v: float(np.mean([p.sum(axis=1).mean() for p in preds[v]])) for v in preds},
            "overall": overall, "per_label": sorted(per_label, key=lambda row: row["difference"])}


def write(folder: Path) -> dict[str, Any]:
    """Write per_label.md and per_label.json in `folder` from its finished multi-label runs."""
    summary = compare_runs(load_results(folder))
    seeds = ",".join(map(str, summary["seeds"]))
    lines = [f"# GoEmotions multi-label: `{VARIANT}` against `{BASELINE}`, label by label", "",
             f"Written by `python -m experiments.multilabel_report` from the runs in `runs/` (seeds: {seeds}; "
             f"{summary['n_test']:,} test texts). Differences in points with paired bootstrap 95% intervals over test "
             "items (1,000 resamples), each label's interval on its own (28 of them: expect about one to exclude 0 by "
             "chance); every label decided by its threshold tuned on dev at training time.", "",
             f"- micro-F1 {VARIANT} − {BASELINE}: {_interval(summary['overall']['micro_f1'])}",
             f"- exact match {VARIANT} − {BASELINE}: {_interval(summary['overall']['exact_match'])}",
             f"- labels per text: gold {summary['gold_labels_per_text']:.2f}, " + ", ".join(
                 f"{v} {n:.2f}" for v, n in summary["labels_per_text"].items()), "",
             f"| label | test support | F1 {BASELINE} | F1 {VARIANT} | difference [95% CI] |",
             "|---|---:|---:|---:|---|"]
    lines += [f"| {row['label']} | {row['support']} | {row[BASELINE]:.3f} | {row[VARIANT]:.3f} | {_interval(row)} |"
              for row in summary["per_label"]]
    with atomic_open(folder / "per_label.md") as handle:
        handle.write("\n".join(lines) + "\n")
    write_json(folder / "per_label.json", summary)
    return summary


def main() -> None:
    """Command-line entry: rebuild the per-label comparison of one multi-label reproduce folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("results/next-checks/goemotions-multilabel"))
    write(parser.parse_args().folder)


if __name__ == "__main__":
    main()
