"""`sensoryt5 analyze`: which senses push towards which emotion, by the model's own account.

Each text of a split is explained for its predicted class (Integrated Gradients, see `sensoryt5.attribution`); its
sensory part per sense is the sum over its words of the attribution that comes through that sense's ratings. Per
predicted class, the mean over the texts predicted as that class, with a 95% bootstrap interval over those texts. A
positive cell means the sense's ratings (against all-zero ratings) pushed the model towards that emotion. This is
the model-side answer to the paper's open question 1 (which senses go with which emotions); `sensoryt5 data profile`
gives the data-side one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensoryt5.attribution import DEFAULT_TOLERANCE
from sensoryt5.metrics import bootstrap_percentiles
from sensoryt5.profile import difference_cell, interval_heat_map, write_report

MIN_TEXTS = 5  # fewest texts predicted as an emotion for its row to get bootstrap intervals


def _finite(value: float) -> float | None:
    """`value` as a float, None when NaN (no interval)."""
    return None if np.isnan(value) else float(value)


def sense_parts(classifier: Any, texts: Sequence[str], n_steps: int, batch_size: int | None = None,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per text: the predicted (explained) class [N], the sensory part per sense summed over its words [N, D],
    and the explained score change from the baseline [N]."""
    results = classifier.explain_batch(texts, top_k=1, n_steps=n_steps, batch_size=batch_size, progress=progress)
    dims = list(classifier.processor.lexicon.dims)
    predicted = np.array([classifier.labels.index(r["explained"]["label"]) for r in results])  # [N]
    parts = np.array([[sum(w["senses"][d] for w in r["words"]) for d in dims] for r in results])  # [N, D]
    change = np.array([r["explained"]["score"] - r["explained"]["baseline_score"] for r in results])  # [N]
    return predicted, parts.reshape(len(results), len(dims)), change


def analyze(classifier: Any, texts: Sequence[str], n_steps: int, batch_size: int | None = None,
            n_resamples: int = 1000,
            seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Sensory attributions aggregated per predicted class over `texts` (see the module docstring): for each class
    predicted at least once, its number of texts, the mean score change it explains, and per sense the mean
    sensory part with its 95% bootstrap interval."""
    predicted, parts, change = sense_parts(classifier, texts, n_steps, batch_size, progress)
    senses = list(classifier.processor.lexicon.dims)
    emotions = []
    for c, label in enumerate(classifier.labels):
        rows = parts[predicted == c]  # [n_c, D]
        if not len(rows):
            continue
        if len(rows) >= MIN_TEXTS:
            low, high = bootstrap_percentiles(len(rows), lambda idx, rows=rows: rows[idx].mean(axis=0),
                                              n_resamples, seed)
        else:  # no interval from a handful of texts
            low = high = np.full(len(senses), np.nan)
        emotions.append({"label": label, "texts": int(len(rows)),
                         "mean_score_change": float(change[predicted == c].mean()),
                         "sensory_part": {s: {"value": float(rows[:, j].mean()), "low": _finite(low[j]),
                                              "high": _finite(high[j])} for j, s in enumerate(senses)}})
    return {"senses": senses, "texts": len(texts), "n_steps": n_steps, "tolerance": DEFAULT_TOLERANCE, "level": 0.95,
            "n_resamples": n_resamples,
            "seed": seed, "output": "sigmoid" if classifier.multi_label else "probability", "emotions": emotions}


POINTS = 100.0  # tables and heat maps show score changes in points (hundredths of a probability)


def in_points(cell: dict[str, float | None]) -> dict[str, float | None]:
    """A {value, low, high} cell of score changes in points (× `POINTS`; None stays None)."""
    return {key: None if value is None else POINTS * value for key, value in cell.items()}


def _interval_text(cell: dict[str, float | None]) -> str:
    """"[low, high]" in points, or "(too few texts)" without an interval."""
    return "(too few texts)" if cell["low"] is None else f"[{cell['low']:+.2f}, {cell['high']:+.2f}]"


def markdown(analysis: dict[str, Any]) -> str:
    """The per-emotion table: texts, mean score change and each sense's mean sensory part [95% CI], in points."""
    senses = analysis["senses"]
    name = f"{analysis.get('dataset', 'data')} ({analysis.get('split', 'all')})"
    lines = [f"# Sensory attributions of {analysis.get('model', 'the model')} on {name}", "",
             f"Each text explained for its predicted class by Integrated Gradients (from {analysis['n_steps']} steps, "
             f"doubled while |delta| > {analysis['tolerance']}; the "
             f"explained {analysis['output']}); a cell is the mean over the texts predicted as that emotion of the "
             "part of the score change that came through the sense's ratings (summed over words; baseline: all "
             f"ratings 0), with a {analysis['level']:.0%} bootstrap interval over those texts (for emotions "
             f"predicted for at least {MIN_TEXTS} texts; {analysis['n_resamples']} resamples, seed "
             f"{analysis['seed']}); * marks an interval that excludes 0. "
             "Values in points (hundredths of a probability).",
             "", "| predicted emotion | texts | mean score change | " + " | ".join(senses) + " |",
             "|---|---:|---:|" + "---:|" * len(senses)]
    for row in analysis["emotions"]:
        cells = [f"{difference_cell(c, 2)} {_interval_text(c)}" for c in (in_points(row["sensory_part"][s])
                                                                        for s in senses)]
        lines.append(f"| {row['label']} | {row['texts']} | {POINTS * row['mean_score_change']:+.1f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_analysis(analysis: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write `analysis.json`, `analysis.md` and the heat map `analysis.png` into `folder`; returns their paths."""
    name = f"{analysis.get('dataset', 'data')} ({analysis.get('split', 'all')})"

    def draw(path: Path) -> None:
        interval_heat_map([f"{row['label']} ({row['texts']})" for row in analysis["emotions"]], analysis["senses"],
                          [[in_points(row["sensory_part"][s]) for s in analysis["senses"]]
                           for row in analysis["emotions"]],
                          f"{name}: sensory part of the predicted emotion's {analysis['output']}, per sense, in "
                          "points\n(mean over texts; * 95% bootstrap interval excludes 0)", path)

    return write_report(folder, "analysis", analysis, markdown(analysis), draw)
