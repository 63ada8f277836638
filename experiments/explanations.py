"""Are the Integrated Gradients explanations faithful, and how many steps do they need?

Two measurements on trained models, each on a seeded sample of a data set's dev (validation) split:

- `convergence`: for each fixed number of Integrated Gradients steps, the convergence delta |sum of attributions −
  (score − baseline score)| in probability units (median, 95th percentile, maximum) and the seconds per text; then
  the same for the adaptive default (`DEFAULT_STEPS` to start, doubled up to `MAX_STEPS` while |delta| exceeds
  `DEFAULT_TOLERANCE`), with the mean steps it used and the share of texts still over the tolerance.
- `faithfulness`: the ERASER measures (DeYoung et al. 2020) for the predicted class c of each text, with k = 1, 3, 5
  words and 20% of the words (rounded up): comprehensiveness p(c|x) − p(c|x without the k words) (higher: the
  words mattered) and sufficiency p(c|x) − p(c|only the k words) (lower: the words suffice). The k words are the
  top-k by Integrated Gradients contribution towards c (`ig`), k words drawn at random (`random`, seeded), and,
  for fusions with token attention, the top-k by the adapter's attention weight (`attention`). Words are removed by
  deleting their characters from the text (whitespace collapsed); a text left blank becomes "." (the model needs a
  non-blank text). Means with 95% bootstrap intervals over texts, and the paired differences ig − random and
  ig − attention with their intervals.

    python -m experiments.explanations convergence MODEL --dataset isear --name isear-input
    python -m experiments.explanations faithfulness MODEL --dataset isear --name isear-input
    python -m experiments.explanations report

Each run writes results/explanations/runs/NAME/{convergence,faithfulness}.json; `report` writes RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.metrics import bootstrap_percentiles

OUT = Path("results/explanations")
STEPS = (8, 16, 32, 48, 64)
KS: tuple[int | str, ...] = (1, 3, 5, "20%")
METHODS = ("ig", "random", "attention")
COMMAND = "PYTHONPATH=src OMP_NUM_THREADS=1 python -m experiments.explanations"


def dev_sample(dataset: str, n: int, seed: int) -> list[str]:
    """`n` seeded texts of the data set's validation split (all when it has fewer)."""
    from sensoryt5.data import load_dataset

    texts = list(load_dataset(dataset)["validation"]["text"])
    if n < len(texts):
        texts = [texts[i] for i in np.sort(np.random.default_rng(seed).choice(len(texts), n, replace=False))]
    return texts


def interval(values: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean of `values` [N] with its 95% percentile bootstrap interval over the N items."""
    low, high = bootstrap_percentiles(len(values), lambda idx: np.array(values[idx].mean()), n_resamples, seed)
    return {"mean": float(values.mean()), "low": float(low), "high": float(high)}


def convergence(model_dir: str, dataset: str, n_texts: int, seed: int) -> dict[str, Any]:
    """|delta| and seconds per text at each of `STEPS` on a dev sample."""
    from sensoryt5.classifier import SensoryClassifier

    clf = SensoryClassifier.from_pretrained(model_dir, device="cpu")
    texts = dev_sample(dataset, n_texts, seed)
    clf.predict(texts)  # memoise the words, so that timings are of the explanation
    from sensoryt5.attribution import DEFAULT_STEPS, DEFAULT_TOLERANCE

    rows = []
    for steps, tolerance in [*((s, None) for s in STEPS), (DEFAULT_STEPS, DEFAULT_TOLERANCE)]:
        started = time.perf_counter()
        results = clf.explain_batch(texts, n_steps=steps, tolerance=tolerance)
        seconds = (time.perf_counter() - started) / len(texts)
        delta = np.abs([r["explained"]["delta"] for r in results])
        change = np.abs([r["explained"]["score"] - r["explained"]["baseline_score"] for r in results])
        rows.append({"n_steps": steps, "tolerance": tolerance, "median": float(np.median(delta)),
                     "p95": float(np.percentile(delta, 95)), "max": float(delta.max()),
                     "median_relative": float(np.median(delta / np.maximum(change, 1e-6))),
                     "mean_steps_used": float(np.mean([r["explained"]["n_steps"] for r in results])),
                     "share_over_tolerance": float(np.mean(delta > DEFAULT_TOLERANCE)), "seconds_per_text": seconds})
    return {"model": model_dir, "dataset": dataset, "texts": len(texts), "seed": seed, "steps": rows}


def _without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` with the character spans deleted and whitespace collapsed; "." when nothing is left."""
    kept, cursor = [], 0
    for start, end in sorted(spans):
        kept.append(text[cursor:start])
        cursor = end
    kept.append(text[cursor:])
    return re.sub(r"\s+", " ", "".join(kept)).strip() or "."


def _only(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The words at `spans`, in text order, joined by spaces."""
    return " ".join(text[start:end] for start, end in sorted(spans)) or "."


def _k_of(k: int | str, n_words: int) -> int:
    """The number of words for one k: an int (at most all words) or "20%" (rounded up, at least 1)."""
    return min(n_words, max(1, math.ceil(0.2 * n_words))) if k == "20%" else min(n_words, int(k))


def faithfulness(model_dir: str, dataset: str, n_texts: int, seed: int, n_steps: int) -> dict[str, Any]:
    """Comprehensiveness and sufficiency of the ig, random and attention rankings (see the module docstring)."""
    from sensoryt5.classifier import SensoryClassifier

    clf = SensoryClassifier.from_pretrained(model_dir, device="cpu")
    texts = dev_sample(dataset, n_texts, seed)
    started = time.perf_counter()
    results = clf.explain_batch(texts, n_steps=n_steps, attention=True, progress=sys.stderr.isatty())
    steps_used = float(np.mean([r["explained"]["n_steps"] for r in results]))
    explain_s = time.perf_counter() - started
    has_attention = any(w["attention"] is not None for r in results for w in r["words"])
    methods = [m for m in METHODS if m != "attention" or has_attention]
    rng = np.random.default_rng(seed)
    variants: list[str] = []  # texts to score: per text, per method, per k: removed then kept-only
    for result in results:
        words = result["words"]
        orders = {"ig": np.argsort([-w["contribution"] for w in words], kind="stable"),
                  "random": rng.permutation(len(words))}
        if has_attention:
            orders["attention"] = np.argsort([-(w["attention"] or 0.0) for w in words], kind="stable")
        for method in methods:
            for k in KS:
                spans = [(words[i]["start"], words[i]["end"]) for i in orders[method][:_k_of(k, len(words))]]
                variants += [_without(result["text"], spans), _only(result["text"], spans)]
    probabilities = clf.predict_proba(variants)  # [N * methods * ks * 2, C]
    target = np.array([clf.labels.index(r["explained"]["label"]) for r in results])  # [N]
    full = np.array([r["explained"]["score"] for r in results])  # [N]
    shape = (len(results), len(methods), len(KS), 2)
    scored = probabilities[np.arange(len(variants)), np.repeat(target, len(variants) // len(results))]
    drops = full[:, None, None, None] - scored.reshape(shape)  # [N, M, K, 2]
    table = {}
    for m, method in enumerate(methods):
        for j, k in enumerate(KS):
            table[f"{method}/{k}"] = {"comprehensiveness": interval(drops[:, m, j, 0]),
                                      "sufficiency": interval(drops[:, m, j, 1])}
    differences = {}
    for other in methods[1:]:
        for j, k in enumerate(KS):
            a, b = drops[:, 0, j], drops[:, methods.index(other), j]
            differences[f"ig-{other}/{k}"] = {"comprehensiveness": interval(a[:, 0] - b[:, 0]),
                                              "sufficiency": interval(a[:, 1] - b[:, 1])}
    words = np.array([len(r["words"]) for r in results])
    return {"model": model_dir, "dataset": dataset, "texts": len(texts), "seed": seed, "n_steps": n_steps,
            "methods": methods, "ks": [str(k) for k in KS], "mean_words": float(words.mean()),
            "mean_abs_delta": float(np.mean([abs(r["explained"]["delta"]) for r in results])),
            "mean_steps_used": steps_used,
            "explain_seconds": explain_s, "table": table, "differences": differences,
            "machine": _machine(), "training": training_record(model_dir)}


def training_record(model_dir: str) -> dict[str, Any]:
    """The model's training command, data and dev scores from its train_metrics.json (None when absent)."""
    path = Path(model_dir) / "train_metrics.json"
    if not path.is_file():
        return {}
    recorded = json.loads(path.read_text(encoding="utf-8"))
    return {"command": recorded.get("command"), "train_examples": recorded.get("train_examples"),
            "dev_macro_f1": recorded.get("dev", {}).get("macro_f1"), "epochs_run": recorded.get("epochs_run")}


def _machine() -> dict[str, Any]:
    from sensoryt5.reproduce import machine

    return machine()


def _cell(record: dict[str, float]) -> str:
    return f"{100 * record['mean']:+.1f} [{100 * record['low']:+.1f}, {100 * record['high']:+.1f}]"


def report() -> str:
    """RESULTS.md from every run under results/explanations/runs."""
    runs = sorted((OUT / "runs").glob("*"))
    lines = ["# Explanations: convergence of Integrated Gradients and faithfulness (ERASER)", "",
             "Written by `" + COMMAND + " report` from the runs in `results/explanations/runs/` (made by the "
             "`convergence` and `faithfulness` commands of this script, named with each table), the `sensoryt5 "
             "analyze` folders and the reading in `reading.md`. Models: MiniLM (all-MiniLM-L6-v2) with the "
             "Lancaster norms, seed 1, trained by the commands quoted with each table (Empathetic Dialogues and "
             "GoEmotions on 3,000 training texts for 2 epochs, to fit the CPU session: the explanations, not the "
             "scores, are under test). Probabilities in points (hundredths).", ""]
    from sensoryt5.attribution import DEFAULT_STEPS, DEFAULT_TOLERANCE, MAX_STEPS

    lines += ["## Convergence: the delta by number of steps", "",
              f"Fixed step counts, then the default: {DEFAULT_STEPS} steps to start, doubled (up to {MAX_STEPS}) for "
              f"the texts whose absolute delta exceeds {100 * DEFAULT_TOLERANCE:.0f} point; deltas in points.", "",
              "| model | texts | steps | median abs. delta | p95 abs. delta | max abs. delta | median delta / change | "
              "mean steps used | share over 1 point | s per text |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    commands = []
    for run in runs:
        path = run / "convergence.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        for row in data["steps"]:
            steps = str(row["n_steps"]) if row.get("tolerance") is None else f"adaptive from {row['n_steps']}"
            lines.append(f"| {run.name} | {data['texts']} | {steps} | {100 * row['median']:.3f} | "
                         f"{100 * row['p95']:.3f} | {100 * row['max']:.3f} | {row['median_relative']:.4f} | "
                         f"{row.get('mean_steps_used', row['n_steps']):.1f} | "
                         f"{row.get('share_over_tolerance', float('nan')):.2f} | {row['seconds_per_text']:.2f} |")
        commands.append(f"`{COMMAND} convergence {data['model']} --dataset {data['dataset']} --name {run.name} "
                        f"--texts {data['texts']}`")
    lines += ["", "Measured by " + "; ".join(commands) + " (seconds per text on the shared 2-core CPU, one thread, "
              "with other jobs running: compare within a model only).", ""]
    lines += ["## Faithfulness (ERASER), dev sample", "",
              "Comprehensiveness (higher is more faithful) and sufficiency (lower is more faithful) of the top-k "
              "words, mean [95% bootstrap CI] in probability points; `attention` only for fusions with token "
              "attention.", ""]
    for run in runs:
        path = run / "faithfulness.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        lines += [f"### {run.name}", "",
                  f"`{data['model']}` on {data['dataset']} dev: {data['texts']} texts (seed {data['seed']}), "
                  f"{data['mean_words']:.1f} words on average, IG from {data['n_steps']} steps ("
                  f"{data.get('mean_steps_used', data['n_steps']):.1f} used on average; mean |delta| "
                  f"{100 * data['mean_abs_delta']:.3f} points), explanations took {data['explain_seconds']:.0f} s "
                  f"on {data['machine']['cpu']} ({data['machine']['cores']} cores), torch {data['machine']['torch']}. "
                  f"Trained by `{data['training']['command']}` ({data['training']['train_examples']} training texts, "
                  f"dev macro-F1 {data['training']['dev_macro_f1']:.3f}). Measured by `{COMMAND} faithfulness "
                  f"{data['model']} --dataset {data['dataset']} --name {run.name} --texts {data['texts']}`.",
                  "", "| measure | k | " + " | ".join(data["methods"]) + " | " +
                  " | ".join(f"ig − {m}" for m in data["methods"][1:]) + " |",
                  "|---|---|" + "---|" * (2 * len(data["methods"]) - 1)]
        for measure in ("comprehensiveness", "sufficiency"):
            for k in data["ks"]:
                cells = [_cell(data["table"][f"{m}/{k}"][measure]) for m in data["methods"]]
                cells += [_cell(data["differences"][f"ig-{m}/{k}"][measure]) for m in data["methods"][1:]]
                lines.append(f"| {measure} | {k} | " + " | ".join(cells) + " |")
        lines.append("")
    for folder in sorted(OUT.glob("analyze-*")):
        table = (folder / "analysis.md").read_text(encoding="utf-8").split("\n", 2)[2]
        lines += [f"## `sensoryt5 analyze`: {folder.name.removeprefix('analyze-')}", "", table.strip(), "",
                  f"![heat map]({folder.name}/analysis.png)", ""]
    reading = OUT / "reading.md"
    if reading.is_file():
        lines += [reading.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: convergence / faithfulness MODEL --dataset D --name NAME, or report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["convergence", "faithfulness", "report"])
    parser.add_argument("model", nargs="?")
    parser.add_argument("--dataset")
    parser.add_argument("--name")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "report":
        with atomic_open(OUT / "RESULTS.md") as handle:
            handle.write(report())
        return
    from sensoryt5.attribution import DEFAULT_STEPS

    out = OUT / "runs" / args.name
    out.mkdir(parents=True, exist_ok=True)
    if args.command == "convergence":
        write_json(out / "convergence.json", convergence(args.model, args.dataset, args.texts, args.seed))
    else:
        write_json(out / "faithfulness.json", faithfulness(args.model, args.dataset, args.texts, args.seed,
                                                           args.steps or DEFAULT_STEPS))


if __name__ == "__main__":
    main()
