"""Reproduce the paper's comparison: data sets × variants × seeds; train on train, select on dev, test once.

A variant is (fusion, sensory mode, dimensions, lexicon); `none` is the paper's T5 baseline (the backbone without the
sensory branch), `norms` is SensoryT5 and `random` Random SensoryT5. Each finished run leaves
`runs/<dataset>/<variant>/seed<k>/result.json` (test predictions included) and is skipped when the grid is run
again, so an interrupted reproduction resumes where it stopped. The report (`RESULTS.md`, `results.json`, a bar
chart) is rebuilt from all finished runs in the folder, including runs made on other machines.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensoryt5.atomic import atomic_open, write_json
from sensoryt5.errors import SensoryT5Error
from sensoryt5.legacy import current_keys
from sensoryt5.training import TrainingConfig

RESULT_FILE = "result.json"


GRID_FIELDS = ("dataset", "output", "sensory_mode", "fusion", "sensory_dims", "ablate", "lexicon", "seed", "resume",
               "overwrite")
"""TrainingConfig fields the grid sets for each run; every other one comes from `ReproduceConfig.training`."""


def training_template(**settings: Any) -> TrainingConfig:
    """The TrainingConfig every run of a grid starts from (its data set and output are set per run)."""
    return TrainingConfig(dataset="", output="", **settings)


@dataclass
class ReproduceConfig:
    """The grid, and the training settings shared by every run (`training`, a template TrainingConfig)."""

    datasets: list[str] = field(default_factory=lambda: ["isear", "emoint"])
    sensory_modes: list[str] = field(default_factory=lambda: ["none", "norms", "random"])
    fusions: list[str] = field(default_factory=lambda: ["paper"])
    sensory_dims: list[str] = field(default_factory=lambda: ["perceptual"])  # `all` columns for another lexicon
    ablate: list[str] = field(default_factory=list)  # senses zeroed one at a time, beside the full variant
    lexicons: list[str] = field(default_factory=lambda: ["lancaster"])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    training: TrainingConfig = field(default_factory=training_template)
    output: str = "results"
    name: str | None = None  # results/<name>; default: the backbone's short name
    keep_models: bool = False
    command: str = ""

    @property
    def folder(self) -> Path:
        """Where runs and the report of this grid live."""
        return Path(self.output) / (self.name or Path(self.training.backbone.rstrip("/")).name)


QUICK_NAME = "quick"  # the quick preset's results folder
QUICK_KEPT_RUN = ("isear", "paper-norms", 1)  # its run whose model folder is kept, to try after `make demo`


def quick_preset(config: ReproduceConfig) -> ReproduceConfig:
    """The README's main job: MiniLM on ISEAR, 1 seed, 1 epoch, 3 modes (about 10 minutes on 2 CPU cores)."""
    return replace(config, datasets=["isear"], seeds=[1], name=config.name or QUICK_NAME,
                   training=replace(config.training, epochs=1.0, max_length=64))


def quick_model_dir(config: ReproduceConfig) -> Path:
    """Where the quick preset keeps its SensoryT5 run's model: results/quick/runs/isear/paper-norms/seed1/model."""
    dataset, key, seed = QUICK_KEPT_RUN
    return config.folder / "runs" / dataset / key / f"seed{seed}" / "model"


def _keeps_model(config: ReproduceConfig, model_dir: Path) -> bool:
    """Whether a run's model folder stays: with `keep_models`, and the quick preset's SensoryT5 run always."""
    return config.keep_models or (config.name == QUICK_NAME and model_dir == quick_model_dir(config))


@dataclass(frozen=True)
class Variant:
    """One column of the comparison."""

    sensory_mode: str
    fusion: str = "paper"
    sensory_dims: str = "perceptual"
    ablate: str = ""  # comma list of dimensions zeroed for every word
    lexicon: str = "lancaster"

    @property
    def ablated(self) -> tuple[str, ...]:
        """The dimensions zeroed for every word."""
        return tuple(filter(None, self.ablate.split(",")))

    @property
    def key(self) -> str:
        """Folder name, e.g. `paper-norms`, `gate-norms-action`, `gate-norms-no_visual` (column removed),
        `input-norms-zero_visual` (sense zeroed), `input-norms-nrc-emolex` (another lexicon, every column); the
        baseline is `none`."""
        if self.sensory_mode == "none":
            return "none"
        if self.lexicon == "lancaster":
            dims = "" if self.sensory_dims == "perceptual" else f"-{dims_label(self.sensory_dims)}"
        else:
            dims = f"-{lexicon_label(self.lexicon)}" + ("" if self.sensory_dims == "all"
                                                        else f"-{dims_label(self.sensory_dims, self.lexicon)}")
        return (f"{self.fusion}-{self.sensory_mode}" + dims
                + ("" if not self.ablated else "-zero_" + "+".join(self.ablated)))


def variant_of(result: dict[str, Any]) -> Variant:
    """The Variant of a result.json, also of one written before the fields were named sensory_mode/sensory_dims."""
    return Variant(**current_keys(result["variant"]))



def lexicon_label(lexicon: str) -> str:
    """Short name of a lexicon in folder names: a built-in's name, a CSV file's stem."""
    from sensoryt5.lexicons import is_built_in

    return lexicon.strip().lower() if is_built_in(lexicon) else Path(lexicon).stem


def dims_label(spec: str, lexicon: str = "lancaster") -> str:
    """Short name of a dimension set: a named set, `no_<sense>` for the perceptual set minus one, else a+b+c."""
    from sensoryt5.lexicons import load_lexicon
    from sensoryt5.norms import DIMENSION_SETS, PERCEPTUAL, parse_dims

    if spec in DIMENSION_SETS:
        return spec
    dims = parse_dims(spec, load_lexicon(lexicon))
    missing = [d for d in PERCEPTUAL if d not in dims]
    if set(dims) < set(PERCEPTUAL) and len(missing) == 1:
        return f"no_{missing[0]}"
    return "+".join(dims)


def variants(config: ReproduceConfig) -> list[Variant]:
    """Every distinct variant of the grid (the baseline once, whatever the fusions and dimensions); each sense in
    `config.ablate` adds, for every sensory variant, a copy with that sense zeroed. For a lexicon other than
    Lancaster the default dimension set `perceptual` means all its columns."""
    seen: dict[str, Variant] = {}
    for lexicon in config.lexicons:
        for sensory_mode in config.sensory_modes:
            for fusion in config.fusions:
                for sensory_dims in config.sensory_dims:
                    if lexicon != "lancaster" and sensory_dims == "perceptual":
                        sensory_dims = "all"
                    for ablate in ["", *config.ablate]:
                        if sensory_mode == "none" and ablate:
                            continue
                        variant = Variant(sensory_mode, fusion, sensory_dims, ablate, lexicon)
                        seen.setdefault(variant.key, variant)
    return list(seen.values())


def check_variants(config: ReproduceConfig) -> None:
    """OptionError for a sensory mode, fusion, dimension set or ablated sense that no run could use, before any
    run starts."""
    from sensoryt5.training import check_sensory_options

    for variant in variants(config):
        check_sensory_options(variant.sensory_mode, variant.fusion, variant.sensory_dims, variant.ablated,
                              variant.lexicon)


def machine() -> dict[str, Any]:
    """The hardware a run used: CPU model and cores, GPU if any, torch version."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "python": platform.python_version()}


def run_one(config: ReproduceConfig, dataset: str, variant: Variant, seed: int) -> dict[str, Any]:
    """Train, select on dev, evaluate once on test; write result.json (skipped when it exists)."""
    from sensoryt5.evaluation import evaluate
    from sensoryt5.training import train

    run_dir = config.folder / "runs" / dataset / variant.key / f"seed{seed}"
    result_file, model_dir = run_dir / RESULT_FILE, run_dir / "model"
    if _finished(config, run_dir):
        return json.loads(result_file.read_text(encoding="utf-8"))
    started = time.time()
    training = train(replace(
        config.training, dataset=dataset, output=str(model_dir), sensory_mode=variant.sensory_mode,
        fusion=variant.fusion, sensory_dims=variant.sensory_dims, ablate=variant.ablated, lexicon=variant.lexicon,
        seed=seed, resume=True,
        overwrite=True,
    ))
    test = evaluate(model_dir, dataset, "test", output_dir=run_dir / "test")
    predictions = [json.loads(line) for line in (run_dir / "test" / "predictions.jsonl").open(encoding="utf-8")]
    labels = training["labels"]
    result = {
        "dataset": dataset, "variant": asdict(variant), "variant_key": variant.key, "seed": seed,
        "backbone": config.training.backbone,
        "dev": training["dev"], "best_dev_macro_f1": training["best_dev_macro_f1"],
        "epochs_run": training["epochs_run"],
        "test": {k: test[k] for k in ("accuracy", "macro_f1", "weighted_f1", "n") if k in test},
        "test_micro_f1": test.get("micro_f1"),
        "labels": labels,
        "test_gold": [_encode(p["gold"], labels) for p in predictions],
        "test_pred": [_encode(p["predicted"], labels) for p in predictions],
        "train_examples": training["train_examples"], "coverage": training["coverage"], "command": config.command,
        "wall_time_s": time.time() - started, "machine": machine(),
    }
    write_json(result_file, result)
    if not _keeps_model(config, model_dir):
        shutil.rmtree(model_dir, ignore_errors=True)
    return result


def _encode(value: Any, labels: list[str]) -> Any:
    """Label name → index (or list of names → list of indices for multi-label)."""
    return [labels.index(v) for v in value] if isinstance(value, list) else labels.index(value)


Job = tuple[str, Variant, int]  # (data set, variant, seed)


def grid_jobs(config: ReproduceConfig) -> list[Job]:
    """Every (data set, variant, seed) of the grid, data set by data set."""
    return [(d, v, s) for d in config.datasets for v in variants(config) for s in config.seeds]


def is_done(config: ReproduceConfig, job: Job) -> bool:
    """Whether a job already left its result.json (and its model folder, where that is kept)."""
    dataset, variant, seed = job
    return _finished(config, config.folder / "runs" / dataset / variant.key / f"seed{seed}")


def _finished(config: ReproduceConfig, run_dir: Path) -> bool:
    """A run's result.json is written, and so is its model folder where that is kept (see `_keeps_model`)."""
    model_dir = run_dir / "model"
    return (run_dir / RESULT_FILE).is_file() and (not _keeps_model(config, model_dir)
                                                  or (model_dir / "config.json").is_file())


def run_jobs(config: ReproduceConfig, jobs: Sequence[Job], workers: int = 1, progress: Any = print) -> None:
    """Run the unfinished jobs in order, in `workers` processes at once (several small models can share a GPU)."""
    todo = [job for job in jobs if not is_done(config, job)]
    progress(f"{len(jobs) - len(todo)} of {len(jobs)} runs already finished; {len(todo)} to run")
    if workers <= 1:
        for number, (dataset, variant, seed) in enumerate(todo, 1):
            progress(f"[{number}/{len(todo)}] {dataset} {variant.key} seed {seed}")
            run_one(config, dataset, variant, seed)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    quiet = replace(config, training=replace(config.training, progress=False))
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, quiet, *job): job for job in todo}
        for number, future in enumerate(as_completed(futures), 1):
            dataset, variant, seed = futures[future]
            result = future.result()
            progress(f"[{number}/{len(todo)}] {dataset} {variant.key} seed {seed}: test macro-F1 "
                     f"{result['test']['macro_f1']:.4f}")


def run_grid(config: ReproduceConfig, workers: int = 1, progress: Any = print) -> dict[str, Any]:
    """Run every (data set, variant, seed) not yet finished, then rewrite the report."""
    check_variants(config)
    run_jobs(config, grid_jobs(config), workers=workers, progress=progress)
    return write_report(config.folder, command=config.command, settings=asdict(config))


def load_results(folder: Path) -> list[dict[str, Any]]:
    """Every finished run under `folder/runs`."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((folder / "runs").glob(f"*/*/*/{RESULT_FILE}"))]


def summarise(results: Sequence[dict[str, Any]], n_resamples: int = 1000) -> dict[str, Any]:
    """Mean ± std per data set and variant, and the paired bootstrap CI of each variant − baseline macro-F1."""
    from sensoryt5.metrics import macro_f1_of, paired_bootstrap

    summary: dict[str, Any] = {}
    for dataset in sorted({r["dataset"] for r in results}):
        runs = [r for r in results if r["dataset"] == dataset]
        by_variant: dict[str, list[dict[str, Any]]] = {}
        for r in sorted(runs, key=lambda r: r["seed"]):
            by_variant.setdefault(r["variant_key"], []).append(r)
        rows = {}
        for key, group in by_variant.items():
            rows[key] = {
                "sensory_mode": variant_of(group[0]).sensory_mode, "seeds": [r["seed"] for r in group],
                **{f"{m}_{stat}": fn([r["test"][m] for r in group])
                   for m in ("accuracy", "macro_f1") for stat, fn in (("mean", statistics.mean), ("std", _std))},
                "dev_macro_f1_mean": statistics.mean(r["dev"]["macro_f1"] for r in group),
            }
            baseline = by_variant.get("none")
            if key != "none" and baseline:
                common = sorted({r["seed"] for r in group} & {r["seed"] for r in baseline})
                if common:
                    gold = label_array(group[0]["test_gold"], len(group[0]["labels"]))  # [N] or [N, C]
                    rows[key]["vs_none"] = {**paired_bootstrap(gold, _predictions(group, common),
                                                               _predictions(baseline, common), macro_f1_of,
                                                               n_resamples=n_resamples), "seeds": common}
        summary[dataset] = rows
    return summary


def _predictions(runs: Sequence[dict[str, Any]], seeds: Sequence[int]) -> list[np.ndarray]:
    """Test predictions ([N], or multi-hot [N, C] for multi-label runs) of the runs with the given seeds."""
    return [label_array(r["test_pred"], len(r["labels"])) for r in runs if r["seed"] in seeds]


def label_array(values: Sequence[Any], n_labels: int) -> np.ndarray:
    """A result.json's label indices as an array: [N] for single-label runs, multi-hot [N, C] for multi-label ones
    (whose rows are lists of indices)."""
    if values and isinstance(values[0], list):
        from sklearn.preprocessing import MultiLabelBinarizer

        return MultiLabelBinarizer(classes=list(range(n_labels))).fit_transform(values)
    return np.asarray(values)


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def write_report(folder: Path, command: str = "", settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rewrite RESULTS.md, results.json and results.png in `folder` from every finished run."""
    results = load_results(folder)
    if not results:
        raise SensoryT5Error(f"no finished runs in {folder / 'runs'}: nothing to report")
    summary = summarise(results)
    payload = {"command": command, "settings": settings or {}, "summary": summary,
               "runs": [{k: v for k, v in r.items() if k not in ("test_gold", "test_pred")} for r in results]}
    write_json(folder / "results.json", payload)
    if summary:
        _plot(summary, folder / "results.png")
    with atomic_open(folder / "RESULTS.md") as handle:
        handle.write(_markdown(folder, summary, results, command))
    return payload


def _plot(summary: dict[str, Any], path: Path) -> None:
    """Forest plot, one panel per data set: each variant's test macro-F1 minus the baseline's (`none`), in points,
    with its paired bootstrap 95% interval; the dashed line is no difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(summary)
    keys = sorted({k for rows in summary.values() for k, row in rows.items() if row.get("vs_none")})
    fig, axes = plt.subplots(1, len(datasets), sharey=True, squeeze=False,
                             figsize=(max(6.0, 3.2 * len(datasets)), max(2.5, 0.45 * len(keys) + 1.5)))
    for ax, dataset in zip(axes[0], datasets):
        for y, key in enumerate(keys):
            delta = summary[dataset].get(key, {}).get("vs_none")
            if delta:
                centre = 100 * delta["difference"]
                ax.errorbar(centre, y, xerr=[[centre - 100 * delta["ci_low"]], [100 * delta["ci_high"] - centre]],
                            fmt="o", color="C0", capsize=3)
        ax.axvline(0, color="grey", linestyle="--", linewidth=1)
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("Δ macro-F1 vs none (points)")
        if not keys:
            ax.text(0.5, 0.5, "no variant with a baseline run", ha="center", va="center", transform=ax.transAxes)
    axes[0][0].set_yticks(range(len(keys)), keys, fontsize=8)
    axes[0][0].set_ylim(-0.5, max(len(keys), 1) - 0.5)
    axes[0][0].invert_yaxis()
    fig.suptitle("test macro-F1 difference from the baseline, paired bootstrap 95% interval", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def _markdown(folder: Path, summary: dict[str, Any], results: Sequence[dict[str, Any]], command: str) -> str:
    """The RESULTS.md text: summary table with CIs, per-seed rows, machines and wall time."""
    lines = [f"# Results: {folder.name}", "",
             "Generated by `sensoryt5 reproduce` from the finished runs in `runs/` (test split evaluated once per "
             "run, epoch selected on dev macro-F1). Δ is the variant's mean test macro-F1 minus the baseline's "
             "(`none`, the backbone without the sensory branch), over the seeds both have, with a paired "
             "bootstrap 95% interval over test items (1,000 resamples).", ""]
    commands: dict[str, int] = {}
    for r in results:
        commands[r.get("command") or "(not recorded)"] = commands.get(r.get("command") or "(not recorded)", 0) + 1
    lines += ["Runs were made by:", ""] + [f"- `{c}` ({n} runs)" for c, n in commands.items()]
    if command:
        lines += ["", f"Report written by `{command}`."]
    lines += ["", "| data set | variant | seeds | test acc (mean ± std) | test macro-F1 (mean ± std) | "
              "Δ macro-F1 vs none [95% CI] | dev macro-F1 |", "|---|---|---|---|---|---|---|"]
    for dataset, rows in summary.items():
        for key, row in sorted(rows.items(), key=lambda kv: (kv[0] != "none", kv[0])):
            delta = row.get("vs_none")
            delta_text = (f"{delta['difference'] * 100:+.2f} [{delta['ci_low'] * 100:+.2f}, "
                          f"{delta['ci_high'] * 100:+.2f}]") if delta else "—"
            lines.append(f"| {dataset} | {key} | {len(row['seeds'])} | {row['accuracy_mean']:.4f} ± "
                         f"{row['accuracy_std']:.4f} | {row['macro_f1_mean']:.4f} ± {row['macro_f1_std']:.4f} | "
                         f"{delta_text} | {row['dev_macro_f1_mean']:.4f} |")
    if any(isinstance(r["test_gold"][0], list) for r in results):
        lines += ["", "Multi-label data sets: accuracy is exact match (every label of a text right); macro-F1 is over "
                  "all labels, each decided by its threshold tuned on dev at training time."]
    if "goemotions-multilabel" in summary:
        lines += ["", "Published (GoEmotions, 28 labels, multi-label macro-F1): BERT-base 0.46 (Demszky et al. 2020); "
                  "RoBERTa-base with per-label thresholds 0.54 (the figure issue 23 quotes; its source was not "
                  "checked here)."]
    if "empathetic_dialogues" in summary:
        lines += ["", "Paper (T5-large, Empathetic Dialogues): T5 acc 0.609 / F1 0.604; SensoryT5 acc 0.618 / F1 0.615 "
                  "(Δ F1 +1.1 points)."]
    lines += ["", "## Per-seed runs", "", "| data set | variant | seed | test acc | test macro-F1 | dev macro-F1 | "
              "epochs | train examples | wall time (s) | device |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["dataset"], r["variant_key"] != "none", r["variant_key"], r["seed"])):
        device = r["machine"].get("gpu") or f"{r['machine']['cpu']} ({r['machine']['cores']} cores)"
        lines.append(f"| {r['dataset']} | {r['variant_key']} | {r['seed']} | {r['test']['accuracy']:.4f} | "
                     f"{r['test']['macro_f1']:.4f} | {r['dev']['macro_f1']:.4f} | {r['epochs_run']:.0f} | "
                     f"{r['train_examples']} | {r['wall_time_s']:.0f} | {device} |")
    total = sum(r["wall_time_s"] for r in results)
    lines += ["", f"Sum of the wall times of the {len(results)} runs: {total / 60:.1f} minutes (runs made in parallel "
              "with `--workers` overlap in time; a resumed run counts only the time after it resumed).", ""]
    return "\n".join(lines)
