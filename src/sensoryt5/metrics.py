"""Classification metrics (scikit-learn), multi-label threshold tuning and the paired bootstrap."""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)  # per-label decision thresholds tried on dev


def single_label_metrics(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and weighted-F1 of integer predictions [N] against gold labels [N]."""
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(gold, pred, average="weighted", zero_division=0)),
        "n": int(len(gold)),
    }


def multi_label_metrics(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Micro-, macro- and weighted-F1 and exact-match accuracy of multi-hot predictions [N, C] against gold [N, C].

    `macro_f1` is the selection metric, as for single-label tasks.
    """
    gold, pred = gold.astype(int), pred.astype(int)
    return {
        "accuracy": float((gold == pred).all(axis=1).mean()) if len(gold) else 0.0,
        "micro_f1": float(f1_score(gold, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(gold, pred, average="weighted", zero_division=0)),
        "n": int(len(gold)),
    }


def per_class_report(gold: np.ndarray, pred: np.ndarray, label_names: Sequence[str]) -> list[dict[str, object]]:
    """Precision, recall, F1 and support of every label (single-label ints [N] or multi-hot [N, C])."""
    multi = gold.ndim == 2
    labels = None if multi else list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return [
        {"label": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(label_names, precision, recall, f1, support)
    ]


def tune_thresholds(gold: np.ndarray, probabilities: np.ndarray,
                    grid: np.ndarray | None = None) -> list[float]:
    """Per-label decision thresholds that maximise each label's F1 on (dev) probabilities [N, C]."""
    grid = THRESHOLD_GRID if grid is None else grid
    thresholds = []
    for c in range(probabilities.shape[1]):
        scores = [f1_score(gold[:, c], probabilities[:, c] >= t, zero_division=0) for t in grid]
        thresholds.append(float(grid[int(np.argmax(scores))]))
    return thresholds


def fast_macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 of integer labels [N] over the labels present in gold or prediction (as scikit-learn's
    `f1_score(average="macro", zero_division=0)`), from bincounts: fast enough for thousands of resamples."""
    n_classes = int(max(gold.max(initial=0), pred.max(initial=0))) + 1
    true_positive = np.bincount(gold[gold == pred], minlength=n_classes)
    denominator = np.bincount(gold, minlength=n_classes) + np.bincount(pred, minlength=n_classes)
    present = denominator > 0
    return float(np.mean(2 * true_positive[present] / denominator[present])) if present.any() else 0.0


def accuracy_of(gold: np.ndarray, pred: np.ndarray) -> float:
    """Accuracy of integer labels [N], or exact-match accuracy of multi-hot rows [N, C]."""
    hits = (gold == pred).all(axis=1) if gold.ndim == 2 else gold == pred
    return float(hits.mean()) if len(gold) else 0.0


def per_label_f1(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 of each label [C] of multi-hot rows [N, C], 0 for a label neither in gold nor predicted (as
    scikit-learn's `f1_score(average=None, zero_division=0)`), from column sums."""
    gold, pred = gold.astype(bool), pred.astype(bool)
    true_positive = (gold & pred).sum(axis=0)  # [C]
    denominator = gold.sum(axis=0) + pred.sum(axis=0)  # [C]
    return np.divide(2 * true_positive, denominator, out=np.zeros(gold.shape[1]), where=denominator > 0)


def fast_multi_label_macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 of multi-hot rows [N, C] over all C labels (`per_label_f1`'s mean, as scikit-learn's
    `f1_score(average="macro", zero_division=0)`): about 20 ms a call less than scikit-learn on GoEmotions' test
    split, which a 1,000-resample paired bootstrap calls thousands of times."""
    return float(per_label_f1(gold, pred).mean()) if gold.shape[1] else 0.0


def macro_f1_of(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 of integer labels [N] (`fast_macro_f1`) or of multi-hot rows [N, C] (`fast_multi_label_macro_f1`)."""
    if gold.ndim == 2:
        return fast_multi_label_macro_f1(gold, pred)
    return fast_macro_f1(gold, pred)


BOOTSTRAP_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy_of, "macro_f1": macro_f1_of}


def bootstrap_interval(gold: np.ndarray, pred: np.ndarray,
                       metric: Callable[[np.ndarray, np.ndarray], float] | None = None, n_resamples: int = 1000,
                       seed: int = 0) -> dict[str, float]:
    """95% percentile bootstrap interval over test items of metric(gold, pred) (default: macro-F1).

    Items are drawn as in `paired_bootstrap`, so the same seed resamples the same items.
    """
    metric = metric or macro_f1_of
    low, high = bootstrap_percentiles(len(gold), lambda idx: np.array(metric(gold[idx], pred[idx])),
                                      n_resamples, seed)
    return {"low": float(low), "high": float(high)}


def bootstrap_percentiles(n: int, statistic: Callable[[np.ndarray], np.ndarray], n_resamples: int = 1000,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile bootstrap interval of an array-valued `statistic(idx)` over `n` items.

    `idx` [n] holds the resampled item numbers (drawn with replacement, as in `paired_bootstrap`); returns the
    2.5th and 97.5th percentiles (each of the statistic's shape; NaN where every resample gave NaN).
    """
    rng = np.random.default_rng(seed)
    scores = np.stack([np.asarray(statistic(rng.integers(0, n, n)), dtype=np.float64) for _ in range(n_resamples)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        low, high = np.nanpercentile(scores, [2.5, 97.5], axis=0)
    return low, high


def bootstrap_intervals(gold: np.ndarray, pred: np.ndarray, n_resamples: int = 1000,
                        seed: int = 0) -> dict[str, object]:
    """The `ci` record of an evaluation: a 95% bootstrap interval of accuracy and of macro-F1."""
    intervals: dict[str, object] = {name: bootstrap_interval(gold, pred, metric, n_resamples, seed)
                                    for name, metric in BOOTSTRAP_METRICS.items()}
    return {**intervals, "level": 0.95, "n_resamples": n_resamples, "seed": seed}


def paired_bootstrap(gold: np.ndarray, preds_a: Sequence[np.ndarray], preds_b: Sequence[np.ndarray],
                     metric: Callable[[np.ndarray, np.ndarray], float] | None = None, n_resamples: int = 1000,
                     seed: int = 0) -> dict[str, float]:
    """Paired bootstrap over test items of mean metric(a) − mean metric(b).

    `preds_a` and `preds_b` each hold one prediction array [N] per training seed; every resample draws the same
    items for all of them, so the interval reflects the test-set sampling of the seed-averaged difference.
    Returns the observed difference, the 95% percentile interval and the share of resamples where a ≤ b.
    The default metric is macro-F1 of integer labels.
    """
    metric = metric or fast_macro_f1
    rng = np.random.default_rng(seed)
    n = len(gold)

    def difference(idx: np.ndarray) -> float:
        a = np.mean([metric(gold[idx], p[idx]) for p in preds_a])
        b = np.mean([metric(gold[idx], p[idx]) for p in preds_b])
        return float(a - b)

    diffs = np.array([difference(rng.integers(0, n, n)) for _ in range(n_resamples)])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        "difference": difference(np.arange(n)),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_a_not_better": float((diffs <= 0).mean()),
        "n_resamples": n_resamples,
    }
