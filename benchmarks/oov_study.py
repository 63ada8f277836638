"""Model selection for the OOV regressor: 5-fold cross-validation on the 90% split, then the shipped model's held-out r.

Run as `python -m benchmarks.oov_study`; writes `benchmarks/results/oov_study.md`. Every candidate is scored by the
Pearson r of its pooled out-of-fold predictions (clipped to 0..5) on the 90% of the single-word entries that
`sensoryt5.oov.heldout_split(0)` keeps for training; the held-out 10% is touched only by `evaluate_heldout` at the
end, for the shipped embedders. Ridge alphas, kNN settings and ensemble weights are picked on the same folds, so
the best cross-validated figures are slightly optimistic; the held-out figures are not.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensoryt5.norms import PERCEPTUAL, SENSORIMOTOR, load_norms
from sensoryt5.oov import (
    DEFAULT_CONFIG,
    FitConfig,
    GloveVectors,
    MiniLMEmbedder,
    OOVRegressor,
    cache_path,
    evaluate_heldout,
    fit_mlp,
    heldout_split,
    knn_predict,
    pearson_per_column,
)

RESULTS = Path(__file__).parent / "results" / "oov_study.md"
N_FOLDS = 5
PERCEPTUAL_COLUMNS = [SENSORIMOTOR.index(d) for d in PERCEPTUAL]
RIDGE_ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
KNN_GRID = tuple((k, t) for k in (20, 50, 100) for t in (7.0, 10.0, 14.0))
ENSEMBLE_WEIGHTS = (0.3, 0.4, 0.5, 0.6)


@dataclass
class Row:
    """One candidate's cross-validated scores."""

    name: str
    setting: str
    r: np.ndarray  # [11] Pearson r of the pooled out-of-fold predictions

    @property
    def mean_perceptual(self) -> float:
        """Mean r over the 6 perceptual dimensions."""
        return float(self.r[PERCEPTUAL_COLUMNS].mean())


def ridge_oof(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> dict[float, np.ndarray]:
    """Out-of-fold ridge predictions [n, 11] for each alpha (features standardised within each fold)."""
    import torch

    out = {alpha: np.zeros_like(y) for alpha in RIDGE_ALPHAS}
    for fold in range(N_FOLDS):
        fit, test = folds != fold, folds == fold
        mean, scale = x[fit].mean(0), np.maximum(x[fit].std(0), 1e-3)
        xf = torch.from_numpy((x[fit] - mean) / scale).float()  # [n_fit, d]
        xt = torch.from_numpy((x[test] - mean) / scale).double()
        y_mean = y[fit].mean(0)
        gram = (xf.T @ xf).double()  # [d, d]
        cross = xf.double().T @ torch.from_numpy(y[fit] - y_mean).double()  # [d, 11]
        eye = torch.eye(gram.shape[0], dtype=torch.float64)
        for alpha in RIDGE_ALPHAS:
            weights = torch.linalg.solve(gram + alpha * eye, cross)
            out[alpha][test] = np.clip((xt @ weights).numpy() + y_mean, 0, 5)
    return out


def mlp_oof(x: np.ndarray, y: np.ndarray, folds: np.ndarray, config: FitConfig) -> np.ndarray:
    """Out-of-fold predictions [n, 11] of the MLP head (unclipped)."""
    out = np.zeros_like(y)
    for fold in range(N_FOLDS):
        fit, test = folds != fold, folds == fold
        out[test] = fit_mlp(x[fit], y[fit], config).predict(x[test])
    return out


def knn_oof(keys: np.ndarray, y: np.ndarray, folds: np.ndarray, k: int, temperature: float) -> np.ndarray:
    """Out-of-fold kNN predictions [n, 11] (keys stored as float16, as the shipped regressor stores them)."""
    out = np.zeros_like(y)
    for fold in range(N_FOLDS):
        fit, test = folds != fold, folds == fold
        out[test] = knn_predict(keys[test], keys[fit].astype(np.float16), y[fit], k, temperature)
    return out


def score(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-dimension r of clipped predictions."""
    return pearson_per_column(np.clip(pred, 0, 5), y)


def best_of(name: str, candidates: dict[str, np.ndarray], y: np.ndarray) -> Row:
    """The candidate setting with the best mean perceptual r."""
    rows = [Row(name, setting, score(pred, y)) for setting, pred in candidates.items()]
    return max(rows, key=lambda row: row.mean_perceptual)


def cache_load_seconds(path: Path) -> tuple[float, float, bool]:
    """In a fresh process: seconds to import `sensoryt5.oov`, seconds to load `path`, and whether torch got imported."""
    code = (
        "import sys, time; t0 = time.perf_counter(); from sensoryt5.oov import OOVRegressor; "
        "t1 = time.perf_counter(); OOVRegressor.load(sys.argv[1]); t2 = time.perf_counter(); "
        "print(t1 - t0, t2 - t1, 'torch' in sys.modules)"
    )
    best = None
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
        imp, load, torch_loaded = out.stdout.split()
        if best is None or float(load) < best[1]:
            best = (float(imp), float(load), torch_loaded == "True")
    return best


def shipped_figures(embedder: str, held_words: list[str], held_values: np.ndarray,
                    glove_found: np.ndarray) -> dict[str, object]:
    """Fit `embedder` into an empty cache (timed; `refit`, as the shipped `minilm` file would be loaded otherwise),
    measure the cache, then its held-out scores."""
    start = time.perf_counter()
    regressor = OOVRegressor.load_or_fit(embedder, progress=True, refit=True)
    fit_seconds = time.perf_counter() - start
    path = cache_path(embedder)
    import_s, load_s, torch_loaded = cache_load_seconds(path)
    scores = evaluate_heldout(embedder, seed=0, progress=False)
    pred = regressor.predict(held_words)
    subsets = {name: float(pearson_per_column(pred[mask], held_values[mask])[PERCEPTUAL_COLUMNS].mean())
               for name, mask in (("with GloVe vector", glove_found), ("without GloVe vector", ~glove_found))}
    return {"scores": scores, "fit_s": fit_seconds, "size_mb": path.stat().st_size / 2 ** 20, "import_s": import_s,
            "load_s": load_s, "torch_on_load": torch_loaded, "subsets": subsets}


def machine() -> str:
    """CPU model, cores, torch version and the load average (other jobs may share the cores)."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    cpu = names[0] if names else cpu
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} (CPU), Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.1f}")


def table(rows: list[Row]) -> list[str]:
    """Markdown table of the CV rows."""
    head = "| candidate | setting | mean r (6 perceptual) | mean r (11) | " + " | ".join(PERCEPTUAL) + " |"
    lines = [head, "|" + "---|" * (4 + len(PERCEPTUAL))]
    for row in rows:
        dims = " | ".join(f"{row.r[c]:.3f}" for c in PERCEPTUAL_COLUMNS)
        lines.append(f"| {row.name} | {row.setting} | **{row.mean_perceptual:.4f}** | {row.r.mean():.4f} | {dims} |")
    return lines


def main() -> None:
    """Run the study and write the results file."""
    wall = time.perf_counter()
    machine_before = machine()
    norms = load_norms()
    train, held = heldout_split(0)
    words = [norms.words[i] for i in train]
    y = norms.values[train].astype(np.float32)  # [n_train, 11]
    folds = np.random.default_rng(1).permutation(len(train)) % N_FOLDS
    print(f"{len(train)} training words, {len(held)} held out; embedding ...", flush=True)

    bare = MiniLMEmbedder().embed(words, progress=True)
    templated = [MiniLMEmbedder(t).embed(words, progress=True).dense for t in ("a {}", "the word {}")]
    glove = GloveVectors().lookup(words)  # [n, 51]
    dense_glove = np.concatenate([bare.dense, glove], axis=1)
    config = DEFAULT_CONFIG

    rows = [
        best_of("ridge", {f"MiniLM sentence embedding, alpha={a:g}": p
                          for a, p in ridge_oof(bare.keys, y, folds).items()}, y),
        best_of("ridge", {f"GloVe-50d + has-vector flag ({glove[:, 50].mean():.1%} covered), alpha={a:g}": p
                          for a, p in ridge_oof(glove, y, folds).items()}, y),
        best_of("ridge", {f"MiniLM word sub-token means, layers 0-6 (2,688), alpha={a:g}": p
                          for a, p in ridge_oof(bare.dense, y, folds).items()}, y),
        best_of("ridge", {f"layers 0-6, mean over templates '{{}}', 'a {{}}', 'the word {{}}', alpha={a:g}": p
                          for a, p in ridge_oof((bare.dense + sum(templated)) / 3, y, folds).items()}, y),
    ]
    print("ridge done", flush=True)
    knn = {(k, t): knn_oof(bare.keys, y, folds, k, t) for k, t in KNN_GRID}
    rows.append(best_of("kNN on neighbours' norms", {f"sentence-embedding cosine, k={k}, temperature={t:g}": p
                                                     for (k, t), p in knn.items()}, y))
    knn_shipped = knn[(config.knn_k, config.knn_temperature)]
    rows.append(Row("kNN on neighbours' norms", f"shipped: k={config.knn_k}, temperature={config.knn_temperature:g}",
                    score(knn_shipped, y)))
    mlp = mlp_oof(bare.dense, y, folds, config)
    print("MLP done", flush=True)
    mlp_glove = mlp_oof(dense_glove, y, folds, config)
    print("MLP + GloVe done", flush=True)
    mlp_setting = f"hidden {config.hidden}, {config.epochs} epochs, dropout {config.input_dropout}/{config.dropout}"
    rows += [
        Row("MLP, 11 dims jointly", f"layers 0-6; {mlp_setting}", score(mlp, y)),
        Row("MLP, 11 dims jointly", f"layers 0-6 + GloVe; {mlp_setting}", score(mlp_glove, y)),
    ]
    for label, head in (("MLP(layers) + kNN", mlp), ("MLP(layers + GloVe) + kNN", mlp_glove)):
        for w in ENSEMBLE_WEIGHTS:
            shipped = " (shipped)" if w == config.mlp_weight else ""
            blend = w * head + (1 - w) * knn_shipped
            rows.append(Row(f"ensemble {label}", f"MLP weight {w:g}{shipped}", score(blend, y)))

    print("cross-validation done; fitting the shipped regressors into an empty cache ...", flush=True)
    held_words = [norms.words[i] for i in held]
    glove_found = GloveVectors().lookup(held_words)[:, 50] > 0
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SENSORYT5_CACHE"] = cache
        shipped = {name: shipped_figures(name, held_words, norms.values[held], glove_found)
                   for name in ("minilm", "minilm+glove")}
    write_results(rows, shipped, len(train), len(held), int(glove_found.sum()), machine_before,
                  time.perf_counter() - wall)


def write_results(rows: list[Row], shipped: dict[str, dict], n_train: int, n_held: int, n_held_glove: int,
                  machine_before: str, wall_s: float) -> None:
    """Write `RESULTS` and echo it."""
    best = max(rows, key=lambda row: row.mean_perceptual)
    lines = [
        "# OOV regressor: model selection", "",
        "Command: `python -m benchmarks.oov_study`", "",
        f"Machine at start: {machine_before}", f"Machine at end: {machine()}", "",
        f"Wall time of the whole study: {wall_s / 60:.1f} min", "",
        f"## {N_FOLDS}-fold cross-validation on the 90% split ({n_train} single words)", "",
        "Pearson r of pooled out-of-fold predictions, clipped to 0..5. Where a candidate had a grid "
        "(ridge alpha, kNN k and temperature) its best setting is shown.", "",
        *table(rows), "",
        f"Best cross-validated mean perceptual r: {best.mean_perceptual:.4f} ({best.name}, {best.setting}).", "",
        f"## Held-out 10% ({n_held} single words never seen in fitting; {n_held_glove} have a GloVe vector)", "",
        "| embedder | " + " | ".join(SENSORIMOTOR) + " | **mean (6 perceptual)** |",
        "|" + "---|" * (len(SENSORIMOTOR) + 2),
    ]
    for name, fig in shipped.items():
        scores = fig["scores"]
        lines.append(f"| {name} | " + " | ".join(f"{scores[d]:.3f}" for d in SENSORIMOTOR)
                     + f" | **{scores['mean']:.4f}** |")
    lines += ["", "| embedder | held-out mean r, words with a GloVe vector | without | first fit (embed + MLP), s "
              "| cache file, MiB | cache load in a new process, s | import sensoryt5.oov, s | torch imported by load |",
              "|---|---|---|---|---|---|---|---|"]
    for name, fig in shipped.items():
        sub = fig["subsets"]
        lines.append(f"| {name} | {sub['with GloVe vector']:.4f} | {sub['without GloVe vector']:.4f} | "
                     f"{fig['fit_s']:.1f} | {fig['size_mb']:.1f} | {fig['load_s']:.4f} | {fig['import_s']:.3f} | "
                     f"{fig['torch_on_load']} |")
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
