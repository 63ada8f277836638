"""Transfer across data sets (issue 23, part 1): test every model of `experiments/transfer.sh` on the test split of
each of the four data sets in the shared four-emotion label space, and write transfer/table.md and summary.json.

A run's in-domain scores are its own `result.json` (the source's test split, tested once by `reproduce`); its
out-of-domain predictions are made here from the kept model folder (`evaluate` with the label map recorded at
training time, `four-emotions`) and stored beside result.json as `transfer.json` (gold and predicted label ids per
target), so the report can be rebuilt without the models. The tables: each variant's mean test macro-F1 on every
target (mean over seeds), its mean out-of-domain macro-F1 and its drop (in-domain minus the out-of-domain mean); and
for each pair of PAIRS (`input` with the norms against `none` and against random values, random values against
`none`, and `input` with the NRC Emotion Lexicon, part 2's second lexicon, against the other three), the paired
difference on each out-of-domain target and the difference in drop, each with a 95% bootstrap
interval (test items resampled within each target, seeds paired, runs on the same device).

    python -m experiments.transfer_report [--folder results/next-checks/transfer]
    python -m experiments.transfer_report --run results/next-checks/transfer/runs/isear/none/seed1
    python -m experiments.transfer_report --pending isear,emoint --variant none --seed 2

`--run` only cross-tests one finished run (transfer.sh calls it as each run ends, so that a run's out-of-domain
predictions are on disk, and can be committed, before its model folder could be lost). `--pending` prints, comma-
separated, the sources whose run of that variant and seed is not yet tested on every target: transfer.sh trains
only those, since a committed run keeps its result.json and transfer.json but not its model folder, and `reproduce
--keep-models` would otherwise train it again.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from experiments.fusion_report import by_key
from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.metrics import fast_macro_f1
from sensoryt5.reproduce import load_results

TARGETS = ("isear", "emoint", "goemotions", "empathetic_dialogues")
SHORT = {"isear": "ISEAR-4", "emoint": "EmoInt", "goemotions": "GoEmotions-4", "empathetic_dialogues": "ED-4"}
NRC = "input-norms-nrc-emolex"
VARIANTS = {"none": "none", "input-norms": "input, norms", "input-random": "input, random values",
            NRC: "input, NRC EmoLex"}
PAIRS = (("input-norms", "none"), ("input-norms", "input-random"), ("input-random", "none"),
         (NRC, "none"), (NRC, "input-norms"), (NRC, "input-random"))
TRANSFER_FILE = "transfer.json"
N_RESAMPLES = 1000


def tested(run_dir: Path) -> dict[str, dict[str, list[int]]]:
    """The out-of-domain predictions of one run stored so far in its transfer.json ({} before the first)."""
    cache = run_dir / TRANSFER_FILE
    return json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}


def fully_tested(run_dir: Path, source: str) -> bool:
    """Whether a run has its result.json and a transfer.json holding every target other than its source (the file
    is rewritten after each target, so a cross-test cut off midway leaves it partial)."""
    done = tested(run_dir)
    return (run_dir / "result.json").is_file() and all(t in done for t in TARGETS if t != source)


def cross_test(run_dir: Path, result: dict[str, Any]) -> dict[str, dict[str, list[int]]]:
    """{target: {"gold": ids, "pred": ids}} of one run on every target's test split (cached in transfer.json)."""
    from sensoryt5.classifier import SensoryClassifier
    from sensoryt5.evaluation import evaluate

    out = tested(run_dir)
    out[result["dataset"]] = {"gold": result["test_gold"], "pred": result["test_pred"]}
    missing = [t for t in TARGETS if t not in out]
    if missing:
        model_dir = run_dir / "model"
        if not model_dir.is_dir():
            raise SystemExit(f"{run_dir}: no model folder to test on {', '.join(missing)} (run transfer.sh)")
        clf = SensoryClassifier.from_pretrained(model_dir)
        labels = result["labels"]
        for target in missing:
            with tempfile.TemporaryDirectory() as tmp:
                evaluate(model_dir, target, "test", output_dir=tmp, classifier=clf)
                rows = [json.loads(line) for line in (Path(tmp) / "predictions.jsonl").open(encoding="utf-8")]
            out[target] = {"gold": [labels.index(r["gold"]) for r in rows],
                           "pred": [labels.index(r["predicted"]) for r in rows]}
            write_json(run_dir / TRANSFER_FILE, {t: out[t] for t in TARGETS if t in out and t != result["dataset"]})
            print(f"{run_dir}: tested on {target}", flush=True)
    return out


def _scores(runs: list[dict[str, dict[str, list[int]]]], idx: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean macro-F1 over seeds on each target, with `idx` [n_target] the resampled items of each."""
    return {t: float(np.mean([fast_macro_f1(np.asarray(r[t]["gold"])[idx[t]], np.asarray(r[t]["pred"])[idx[t]])
                              for r in runs])) for t in idx}


def _drop(scores: dict[str, float], source: str) -> float:
    """In-domain macro-F1 minus the mean of the out-of-domain targets."""
    return scores[source] - statistics.mean(v for t, v in scores.items() if t != source)


def compare(a: list[dict], b: list[dict], source: str, seed: int = 0) -> dict[str, Any]:
    """a − b (seed-paired lists of cross-test predictions) on every target and in drop, with 95% bootstrap
    intervals: each resample draws the items of every target's test split independently, the same for a and b."""
    sizes = {t: len(a[0][t]["gold"]) for t in TARGETS}

    def statistic(idx: dict[str, np.ndarray]) -> np.ndarray:
        sa, sb = _scores(a, idx), _scores(b, idx)
        return np.array([sa[t] - sb[t] for t in TARGETS] + [_drop(sa, source) - _drop(sb, source)])

    observed = statistic({t: np.arange(n) for t, n in sizes.items()})
    rng = np.random.default_rng(seed)
    draws = np.stack([statistic({t: rng.integers(0, n, n) for t, n in sizes.items()}) for _ in range(N_RESAMPLES)])
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    names = [*TARGETS, "drop"]
    return {name: {"difference": float(observed[i]), "ci_low": float(low[i]), "ci_high": float(high[i])}
            for i, name in enumerate(names)}


def summary(folder: Path) -> dict[str, Any]:
    """Per source: each variant's seeds, mean scores per target, out-of-domain mean and drop; and the pairs."""
    results = load_results(folder)
    table = by_key(results)
    out: dict[str, Any] = {}
    for source in [t for t in TARGETS if any(r["dataset"] == t for r in results)]:
        tested = {key: {seed_device: cross_test(folder / "runs" / source / key / f"seed{seed_device[0]}", run)
                        for seed_device, run in sorted(table.get((source, key), {}).items())}
                  for key in VARIANTS}
        cell: dict[str, Any] = {"variants": {}, "pairs": {}}
        for key, runs in tested.items():
            if runs:
                scores = _scores(list(runs.values()), {t: np.arange(len(next(iter(runs.values()))[t]["gold"]))
                                                       for t in TARGETS})
                cell["variants"][key] = {"seeds": [s for s, _ in runs], "macro_f1": scores,
                                         "out_of_domain": statistics.mean(v for t, v in scores.items() if t != source),
                                         "drop": _drop(scores, source),
                                         "wall_s": sum(table[(source, key)][s]["wall_time_s"] for s in runs)}
        for a, b in PAIRS:
            common = sorted(set(tested[a]) & set(tested[b]))
            if common:
                cell["pairs"][f"{a} - {b}"] = {"seeds": [s for s, _ in common], **compare(
                    [tested[a][s] for s in common], [tested[b][s] for s in common], source)}
        out[source] = cell
    return out


def _interval(c: dict[str, float]) -> str:
    return f"{100 * c['difference']:+.2f} [{100 * c['ci_low']:+.2f}, {100 * c['ci_high']:+.2f}]"


def markdown(data: dict[str, Any]) -> str:
    """The two tables of transfer/table.md."""
    head = " | ".join(SHORT[t] for t in TARGETS)
    lines = ["Test macro-F1 (mean over seeds; the in-domain cell is in bold), the out-of-domain mean and the drop "
             "(in-domain minus out-of-domain mean), in points:", "",
             f"| source | variant | seeds | {head} | out-of-domain | drop |",
             "|---|---|---|" + "---:|" * (len(TARGETS) + 2)]
    for source, cell in data.items():
        for key, v in cell["variants"].items():
            cells = [f"**{100 * v['macro_f1'][t]:.2f}**" if t == source else f"{100 * v['macro_f1'][t]:.2f}"
                     for t in TARGETS]
            lines.append(f"| {SHORT[source]} | {VARIANTS[key]} | {','.join(map(str, v['seeds']))} | "
                         + " | ".join(cells) + f" | {100 * v['out_of_domain']:.2f} | {100 * v['drop']:.2f} |")
    lines += ["", "Paired differences in points with 95% bootstrap intervals (a negative difference in drop means "
              "the first variant loses less out of domain):", "",
              f"| source | difference | seeds | {head} | drop |", "|---|---|---|" + "---|" * (len(TARGETS) + 1)]
    for source, cell in data.items():
        for pair, c in cell["pairs"].items():
            a, b = pair.split(" - ")
            lines.append(f"| {SHORT[source]} | {VARIANTS[a]} − {VARIANTS[b]} | {','.join(map(str, c['seeds']))} | "
                         + " | ".join(_interval(c[t]) for t in TARGETS) + f" | {_interval(c['drop'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Cross-test one run (`--run`) or build the tables of a whole folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("results/next-checks/transfer"))
    parser.add_argument("--run", type=Path, help="cross-test this one run folder and write its transfer.json only")
    parser.add_argument("--pending", help="print which of these comma-separated sources still need --variant/--seed")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="with --pending: the run folder's variant key")
    parser.add_argument("--seed", type=int, help="with --pending: the seed")
    args = parser.parse_args(argv)
    if args.pending is not None:
        if args.variant is None or args.seed is None:
            parser.error("--pending needs --variant and --seed")
        runs = args.folder / "runs"
        print(",".join(s for s in args.pending.split(",")
                       if not fully_tested(runs / s / args.variant / f"seed{args.seed}", s)))
        return
    if args.run is not None:
        cross_test(args.run, json.loads((args.run / "result.json").read_text(encoding="utf-8")))
        return
    data = summary(args.folder)
    write_json(args.folder / "summary.json", data)
    with atomic_open(args.folder / "table.md") as handle:
        handle.write(markdown(data) + "\n")
    print(markdown(data))


if __name__ == "__main__":
    main()
