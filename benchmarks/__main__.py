"""Run every benchmark and write BENCHMARKS.md: `python -m benchmarks [--quick] [--output BENCHMARKS.md]`.

Each benchmark module (`MODULES`, plus `gpu_throughput` when CUDA is available) runs its `run(quick)` in a process of
its own, so thread settings, imports and peak memory do not leak from one to the next and a module that fails is
reported without stopping the others. Those processes run torch and onnxruntime on the same number of intra-op
threads: `$OMP_NUM_THREADS`, else `$SENSORYT5_BENCH_THREADS`, else the cores left idle when the run starts (cores
minus the whole part of the 1-minute load average, at least 1). Busy cores are left alone because on this
project's shared 2-core machine, at a load average of 5, two threads made a MiniLM training step about 20 times
slower than one (6.5 s against 0.30 s at batch 8 x 32), as each thread waits out the other's time slices.

Every figure is a ratio of a candidate against a named baseline timed alternately in the same run
(`benchmarks.harness.interleaved_timings`), summarised by its median, min and max. Without CUDA the GPU section shows
the recorded run in `benchmarks/results/gpu_throughput.json`, labelled as such.
Exit status: 0 when every module ran (whether or not its targets were met), 1 when one failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODULES = ("lexicon_load", "first_call", "model_step", "alignment_speed", "inference_speed", "explain_speed",
           "onnx_speed", "serve_load", "ray_speed")
GPU_MODULE = "gpu_throughput"
RECORDED_GPU = HERE / "results" / "gpu_throughput.json"
OOV_STUDY = HERE / "results" / "oov_study.md"
MODULE_TIMEOUT_S, QUICK_MODULE_TIMEOUT_S = 900, 300
LONG_MODULES = {"ray_speed": 2400}  # its 3 commands on 20,000 texts took over 900 s on the 2-core machine


@dataclass
class ModuleRun:
    """The outcome of one benchmark module: its figures' summaries, wall time, peak memory, or its error."""

    name: str
    figures: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    peak_rss_mib: float | None = None
    error: str | None = None


def run_in_this_process(name: str, quick: bool, output: Path) -> None:
    """Run `benchmarks.<name>.run(quick)` here and write its figures' summaries and peak RSS to `output` (JSON)."""
    from benchmarks.harness import high_water_mib

    module = importlib.import_module(f"benchmarks.{name}")
    figures = [figure.summary() for figure in module.run(quick=quick)]
    output.write_text(json.dumps({"figures": figures, "peak_rss_mib": round(high_water_mib(), 1)}, default=str))


def run_module(name: str, quick: bool, timeout_s: float) -> ModuleRun:
    """Run one module in a child process (`--module NAME`) with a time limit; its figures or its error."""
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "OMP_NUM_THREADS": threads(),
           "SENSORYT5_BENCH_THREADS": threads()}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "figures.json"
        command = [sys.executable, "-m", "benchmarks", "--module", name, "--figures-json", str(output)]
        try:
            child = subprocess.run(command + (["--quick"] if quick else []), cwd=HERE.parent, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return ModuleRun(name, wall_s=time.monotonic() - started, error=f"timed out after {timeout_s:.0f} s")
        wall_s = time.monotonic() - started
        if child.returncode != 0 or not output.is_file():
            tail = " | ".join(line.strip() for line in child.stdout.strip().splitlines()[-3:])
            return ModuleRun(name, wall_s=wall_s, error=f"exit code {child.returncode}: {tail}")
        result = json.loads(output.read_text())
    return ModuleRun(name, result["figures"], wall_s, result["peak_rss_mib"])


@functools.cache
def threads() -> str:
    """Intra-op threads of every benchmark process: `$OMP_NUM_THREADS`, else `$SENSORYT5_BENCH_THREADS`, else the
    idle cores at the first call (cores minus the whole part of the 1-minute load average, at least 1)."""
    idle = max(1, (os.cpu_count() or 1) - int(os.getloadavg()[0]))
    return os.environ.get("OMP_NUM_THREADS") or os.environ.get("SENSORYT5_BENCH_THREADS") or str(idle)


def machine(torch_version: str, gpu: str | None) -> dict[str, str]:
    """CPU model, cores, Python and library versions, GPU (load averages are added by the caller)."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {}
    for package in ("transformers", "onnxruntime", "numpy"):
        try:
            versions[package] = importlib.import_module(package).__version__
        except ImportError:
            versions[package] = "not installed"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"CPU": cpu, "cores": f"{os.cpu_count()} ({usable} usable by this process)",
            "threads per benchmark process": f"{threads()} (OMP_NUM_THREADS, SENSORYT5_BENCH_THREADS)",
            "OS": f"{platform.system()} {platform.release()}", "Python": platform.python_version(),
            "torch": torch_version, **versions, "GPU": gpu or "none (CUDA not available)"}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _flatten(notes: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in notes.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def result_cell(figure: dict[str, Any]) -> str:
    """PASS, FAIL, or "reported" for a figure without a target."""
    if not figure.get("target"):
        return "reported"
    return "**PASS**" if figure.get("passed") else "**FAIL**"


def peak_memory(figure: dict[str, Any]) -> str:
    """The figure's peak-memory notes (keys naming a peak, less the harness's duplicates), or "–"."""
    flat = _flatten(figure.get("notes") or {})
    peaks = [f"{key.removeprefix('peak_memory.')}: {_number(value)}" for key, value in flat.items()
             if "peak" in key and "harness" not in key and value is not None]
    return "; ".join(peaks) or "–"


def figure_table(figures: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of figures: ratio median (min, max), raw medians, target and result."""
    lines = ["| figure | ratio median | min | max | reps | candidate median | baseline median | unit | "
             "peak memory | target | result |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {_cell(f['name'])} | **{f['ratio_median']:.3f}** | {f['ratio_min']:.3f} | "
                     f"{f['ratio_max']:.3f} | {f['repetitions']} | {f['candidate_median']:.4g} | "
                     f"{f['baseline_median']:.4g} | {_cell(f['unit'])} | {_cell(peak_memory(f))} | "
                     f"{_cell(f.get('target') or '–')} | {result_cell(f)} |")
    return lines


def figure_details(figures: list[dict[str, Any]]) -> list[str]:
    """Per figure: what was compared, and its notes."""
    lines = []
    for f in figures:
        lines.append(f"- **{f['name']}**: candidate: {f['candidate']}; baseline: {f['baseline']}.")
        notes = _flatten(f.get("notes") or {})
        if notes:
            lines.append("  " + "; ".join(f"{key}: {_number(value)}" for key, value in notes.items()))
    return lines


def description(name: str) -> str:
    """The first paragraph of a benchmark module's docstring."""
    doc = importlib.import_module(f"benchmarks.{name}").__doc__ or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def recorded_gpu() -> tuple[list[dict[str, Any]], str]:
    """The recorded GPU figures and a sentence saying where and when they were measured."""
    payload = json.loads(RECORDED_GPU.read_text(encoding="utf-8"))
    devices = sorted({f["notes"].get("device", "unknown GPU") for f in payload["figures"]})
    when = "unknown date"
    try:
        log = subprocess.run(["git", "log", "-1", "--format=%h %cI", "--", str(RECORDED_GPU)], cwd=HERE.parent,
                             capture_output=True, text=True, timeout=30)
        if log.returncode == 0 and log.stdout.strip():
            commit, date = log.stdout.split()
            when = f"committed {date} (commit {commit})"
    except (OSError, subprocess.TimeoutExpired, ValueError):
        pass
    if when == "unknown date":
        when = f"file dated {dt.datetime.fromtimestamp(RECORDED_GPU.stat().st_mtime, dt.timezone.utc):%Y-%m-%d}"
    sentence = (f"**Recorded run, not this run**: no CUDA device here, so these figures are the recorded "
                f"`python -m benchmarks.gpu_throughput` run in `{RECORDED_GPU.relative_to(HERE.parent)}`, measured "
                f"on {', '.join(devices)} with torch {payload.get('torch', '?')} "
                f"(wall {payload.get('wall_s', '?')} s), {when}.")
    return payload["figures"], sentence


def oov_section() -> list[str]:
    """A link to the OOV regressor study and its held-out figure (read from the study's held-out table)."""
    link = OOV_STUDY.relative_to(HERE.parent)
    lines = ["## OOV regressor study", "",
             f"The out-of-vocabulary regressor (sensory values for words missing from the Lancaster norms) was chosen "
             f"in a model-selection study: [{link}]({link}) (`python -m benchmarks.oov_study`; not rerun here, it "
             f"takes about 35 minutes)."]
    text = OOV_STUDY.read_text(encoding="utf-8") if OOV_STUDY.is_file() else ""
    heading = re.search(r"^## Held-out (.+)$", text, re.MULTILINE)
    rows = dict(re.findall(r"^\| (minilm(?:\+glove)?) \|.*\*\*([0-9.]+)\*\* \|$", text, re.MULTILINE))
    if heading and rows:
        scores = ", ".join(f"{name} {score}" for name, score in rows.items())
        lines += ["", f"Held-out figure: on the held-out {heading.group(1)}, the Pearson r between predicted and "
                      f"rated values, averaged over the 6 perceptual dimensions, is {scores} (embedder of the "
                      f"regressor; `minilm` is the default). Cross-validated model selection and the per-dimension "
                      f"scores are in the study."]
    return lines


def render(runs: list[ModuleRun], gpu: ModuleRun | None, info: dict[str, str], command: str, wall_s: float,
           quick: bool) -> str:
    """The whole BENCHMARKS.md."""
    now = dt.datetime.now(dt.timezone.utc)
    lines = ["# Benchmarks", "",
             f"Generated by `{command}` on {now:%Y-%m-%d %H:%M} UTC; wall time **{wall_s / 60:.1f} min** "
             f"({wall_s:.0f} s){' — quick mode (CI): fewer texts and repetitions' if quick else ''}.", "",
             "Every figure is a ratio, candidate time / baseline time, both measured in the same run and timed "
             "alternately (repetition i of each back to back) after an untimed warm-up; the table gives the median "
             "ratio with its min and max over the repetitions. The machine is shared with other work (see the load "
             "averages): absolute times move with the load, the paired ratios much less. Each benchmark module runs "
             f"in a process of its own, torch on {info['threads per benchmark process'].split()[0]} intra-op "
             "thread(s).", "",
             "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in info.items()]
    lines += ["", "## Summary", "", "| benchmark | figure | ratio median (min–max) | target | result |",
              "|---|---|---|---|---|"]
    for run in [*runs, *([gpu] if gpu else [])]:
        if run.error:
            lines.append(f"| {run.name} | – | – | – | **ERROR**: {_cell(run.error)} |")
        for f in run.figures:
            lines.append(f"| {run.name} | {_cell(f['name'])} | {f['ratio_median']:.3f} ({f['ratio_min']:.3f}–"
                         f"{f['ratio_max']:.3f}) | {_cell(f.get('target') or '–')} | {result_cell(f)} |")
    for run in runs:
        lines += ["", f"## {run.name}", "", description(run.name), "",
                  f"`python -m benchmarks.{run.name}{' --quick' if quick else ''}` — module wall time "
                  f"{run.wall_s:.0f} s" + (f", peak RSS of its process {run.peak_rss_mib:.0f} MiB"
                                           if run.peak_rss_mib else "") + "."]
        if run.error:
            lines += ["", f"**ERROR**: {run.error}"]
            continue
        lines += ["", *figure_table(run.figures), "", *figure_details(run.figures)]
    lines += ["", "## GPU", "", description(GPU_MODULE), ""]
    if gpu is not None:
        lines.append(f"**Live run** on {info['GPU']}, module wall time {gpu.wall_s:.0f} s.")
        figures = gpu.figures
        if gpu.error:
            lines += ["", f"**ERROR**: {gpu.error}"]
    else:
        figures, sentence = recorded_gpu()
        lines.append(sentence)
    if figures:
        lines += ["", *figure_table(figures), "", *figure_details(figures)]
    lines += ["", *oov_section(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and write the report; 1 if a module failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer texts and repetitions (for CI).")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"), help="Report to (re)write.")
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--figures-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.module:
        run_in_this_process(args.module, args.quick, args.figures_json)
        return 0
    import torch

    from sensoryt5.atomic import atomic_open

    started = time.monotonic()
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    info = machine(torch.__version__, gpu_name)
    info["load average at start (1, 5, 15 min)"] = load_average()
    timeout = QUICK_MODULE_TIMEOUT_S if args.quick else MODULE_TIMEOUT_S
    runs = []
    for name in MODULES:
        print(f"[benchmarks] {name} ...", flush=True)
        runs.append(run_module(name, args.quick, timeout if args.quick else LONG_MODULES.get(name, timeout)))
        print(f"[benchmarks] {name}: {runs[-1].error or f'{len(runs[-1].figures)} figure(s)'} "
              f"({runs[-1].wall_s:.0f} s)", flush=True)
    gpu = run_module(GPU_MODULE, args.quick, timeout) if gpu_name else None
    info["load average at end (1, 5, 15 min)"] = load_average()
    wall_s = time.monotonic() - started
    with atomic_open(args.output) as handle:
        handle.write(render(runs, gpu, info, command, wall_s, args.quick))
    print(f"[benchmarks] wrote {args.output} ({wall_s / 60:.1f} min)", flush=True)
    return 1 if any(run.error for run in [*runs, *([gpu] if gpu else [])]) else 0


if __name__ == "__main__":
    sys.exit(main())
