"""Batch inference on Ray Data against `predict --input`: the command a user runs, end to end (process start, model
load, Ray start, reading, writing), on the same 20,000 texts.

Texts: the first 20,000 GoEmotions training comments (short Reddit comments; 12 words on average), one Parquet file.
Model: `benchmarks.inference_speed`'s MiniLM SensoryT5 (paper fusion, norms, no OOV regressor).
Baseline: `sensoryt5 predict MODEL --input texts.parquet --output out.parquet` on one torch thread.
Candidates: `sensoryt5 predict ... --engine ray --workers N --worker-threads 1 --output FOLDER` with N = 1 and 2
(a local Ray started by the command). The three commands run in turn, one round, with no warm-up round
(each command is a fresh process, as a user runs it); ratio = Ray time / predict time. On a machine with two
cores, two workers can at best halve the time, less Ray's start (about 10 s) and each worker's model load.
`--quick`: 400 texts, 1 round.

    python -m benchmarks.ray_speed [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

from benchmarks.harness import Figure, interleaved_timings

N_TEXTS, QUICK_TEXTS = 20_000, 400
REPEATS, QUICK_REPEATS = 1, 1
WORKERS = (1, 2)


def texts_file(folder: Path, n: int) -> Path:
    """The first `n` GoEmotions training texts as a Parquet file with one `text` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sensoryt5.data import load_dataset

    texts = list(load_dataset("goemotions")["train"]["text"][:n])
    path = folder / "texts.parquet"
    pq.write_table(pa.table({"text": texts}), path)
    return path


def _command(model_dir: Path, source: Path, output: Path, workers: int | None) -> None:
    """Run one `sensoryt5 predict --input` command (local when `workers` is None), removing its output first."""
    if output.is_dir():
        shutil.rmtree(output)
    output.unlink(missing_ok=True)
    engine = [] if workers is None else ["--engine", "ray", "--workers", str(workers), "--worker-threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("RAY_ADDRESS", None)
    subprocess.run([sys.executable, "-m", "sensoryt5", "predict", str(model_dir), "--input", str(source),
                    "--output", str(output), "--no-progress", *engine], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run(quick: bool = False) -> list[Figure]:
    """Two figures: Ray with 1 and with 2 workers, each against `predict --input` on the same file."""
    from benchmarks.inference_speed import fine_tuned_model, untrained_model

    n, repeats = (QUICK_TEXTS, QUICK_REPEATS) if quick else (N_TEXTS, REPEATS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_dir = untrained_model(folder / "model") if quick else fine_tuned_model()
        source = texts_file(folder, n)
        commands = {"predict": partial(_command, model_dir, source, folder / "local.parquet", None)}
        for workers in WORKERS:
            commands[f"ray-{workers}"] = partial(_command, model_dir, source, folder / f"ray-{workers}", workers)
        load_before = os.getloadavg()[0]
        times = interleaved_timings(commands, repeats=repeats, warmup=0)
        load_after = os.getloadavg()[0]
    figures = []
    for workers in WORKERS:
        candidate = times[f"ray-{workers}"]
        figures.append(Figure(
            name=f"ray_speed/{'quick-' if quick else ''}workers-{workers}",
            candidate=f"sensoryt5 predict --engine ray --workers {workers} --worker-threads 1 (local Ray)",
            baseline="sensoryt5 predict --input (one process, 1 torch thread)",
            unit="s/command",
            candidate_times=candidate,
            baseline_times=times["predict"],
            target="",
            notes={"texts": n, "input": "one Parquet file of GoEmotions train texts", "cores": os.cpu_count(),
                   "ray_texts_per_s_median": round(n / statistics.median(candidate), 1),
                   "predict_texts_per_s_median": round(n / statistics.median(times["predict"]), 1),
                   "load_average_1min_before_after": [round(load_before, 2), round(load_after, 2)]},
        ))
    return figures


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
