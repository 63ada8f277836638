"""Calibrated scores for single-label models: temperature scaling (Guo et al. 2017) fitted on dev, and the measures
that say whether it helped: expected calibration error (ECE, 15 equal-width bins of the top probability), the
multi-class Brier score, and a reliability diagram.

The temperature T is one number stored in the model's config (`SensoryConfig.temperature`); the model divides its
logits by it, so every way of running the model (PyTorch, an ONNX file exported afterwards, transformers'
pipeline) gives the calibrated probabilities. T does not change which class ranks first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ECE_BINS = 15
TEMPERATURE_RANGE = (0.05, 20.0)  # the bounded search interval of T


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits [N, C]."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean cross-entropy of class ids `labels` [N] under softmax(logits [N, C] / temperature)."""
    scaled = logits / temperature
    shifted = scaled - scaled.max(axis=-1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=-1))
    return float(np.mean(log_z - shifted[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in `TEMPERATURE_RANGE` that minimises the dev negative log-likelihood (bounded search on log T)."""
    from scipy.optimize import minimize_scalar

    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
                            bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the top-class probability: over `bins` equal-width confidence bins, the share of texts in a bin
    times |accuracy − mean confidence| there, summed."""
    confidence = probabilities.max(axis=1)  # [N]
    correct = probabilities.argmax(axis=1) == labels  # [N]
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)  # [N] bin of each text
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean over texts of the squared distance between the probabilities [N, C] and the
    one-hot label."""
    onehot = np.zeros_like(probabilities)
    onehot[np.arange(len(labels)), labels] = 1.0
    return float(np.mean(((probabilities - onehot) ** 2).sum(axis=1)))


def calibration_report(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> dict[str, float]:
    """ECE and Brier score of calibrated `probabilities` [N, C] ("after") and of the same model without its
    temperature ("before": softmax(T · log p), which undoes the scaling)."""
    before = softmax(temperature * np.log(np.clip(probabilities, 1e-12, None)))
    return {"temperature": temperature, "bins": ECE_BINS,
            "ece_before": expected_calibration_error(before, labels),
            "ece_after": expected_calibration_error(probabilities, labels),
            "brier_before": brier_score(before, labels), "brier_after": brier_score(probabilities, labels)}


def reliability_diagram(probabilities: np.ndarray, labels: np.ndarray, temperature: float, path: Path,
                        title: str) -> None:
    """Accuracy against confidence per bin, before and after the temperature, with the diagonal; PNG, atomic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sensoryt5.atomic import atomic_open

    before = softmax(temperature * np.log(np.clip(probabilities, 1e-12, None)))
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="#8c959f", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, probs, colour in (("before (T = 1)", before, "#b35806"), (f"after (T = {temperature:.2f})",
                                                                         probabilities, "#2166ac")):
        confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
        which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, ECE_BINS - 1)
        points = [(confidence[which == b].mean(), correct[which == b].mean()) for b in range(ECE_BINS)
                  if (which == b).any()]
        ax.plot(*zip(*points), marker="o", markersize=3, color=colour,
                label=f"{name}: ECE {expected_calibration_error(probs, labels):.3f}")
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
