"""Compare two trained models on the same split: paired bootstrap differences (B − A) of macro-F1 and accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sensoryt5.errors import InputError


def compare(model_a: str | Path, model_b: str | Path, dataset: str, split: str | None = None, batch_size: int = 64,
            data_options: dict[str, Any] | None = None, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Both models predict the same rows; per metric: A's and B's scores and the paired bootstrap difference B − A
    with its 95% interval and the share of resamples where B is not better.

    `split` and `data_options` are as for `evaluate` (the data options recorded for model A apply). Raises
    InputError when the two models do not have the same labels in the same order.
    """
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.evaluation import gold_matrix, load_split, predicted_labels, recorded_data_options
    from sensoryt5.metrics import BOOTSTRAP_METRICS, paired_bootstrap

    clf_a, clf_b = SensoryClassifier.from_pretrained(model_a), SensoryClassifier.from_pretrained(model_b)
    if clf_a.labels != clf_b.labels or clf_a.multi_label != clf_b.multi_label:
        raise InputError(f"the models have different labels: {model_a} has {clf_a.labels}, {model_b} has "
                         f"{clf_b.labels}; compare models trained on the same labels")
    options = {**recorded_data_options(Path(model_a)), **(data_options or {})}
    part, split_labels, split = load_split(dataset, split, options)
    gold = gold_matrix(part, clf_a.labels, split_labels, clf_a.multi_label, dataset)  # [N] or [N, C]
    texts = list(part["text"])
    pred_a = predicted_labels(clf_a, clf_a.predict_proba(texts, batch_size=batch_size))
    pred_b = predicted_labels(clf_b, clf_b.predict_proba(texts, batch_size=batch_size))
    metrics = {}
    for name, metric in BOOTSTRAP_METRICS.items():
        paired = paired_bootstrap(gold, [pred_b], [pred_a], metric, n_resamples=n_resamples, seed=seed)
        metrics[name] = {"a": metric(gold, pred_a), "b": metric(gold, pred_b), "difference": paired["difference"],
                         "ci_low": paired["ci_low"], "ci_high": paired["ci_high"],
                         "p_b_not_better": paired["p_a_not_better"]}
    return {"model_a": str(model_a), "model_b": str(model_b), "dataset": dataset, "split": split, "n": len(gold),
            "metrics": metrics, "level": 0.95, "n_resamples": n_resamples, "seed": seed}
