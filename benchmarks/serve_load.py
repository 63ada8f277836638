"""Load test of `sensoryt5 serve`: the real server, started through the command line on 127.0.0.1, answering
5,000 `POST /v1/predict` requests (1-4 texts each) from 32 concurrent clients; zero failed requests required.

Model: a small BERT (2 layers, hidden 64, the MiniLM WordPiece tokenizer, random initialisation) fine-tuned for three
epochs on 1,000 ISEAR training texts with the paper fusion and the norms (`RECIPE`; trained once, in seconds, and
cached like `benchmarks.inference_speed`'s model). A small model keeps the test about the serving stack (HTTP, JSON,
validation, micro-batching, queueing) rather than the backbone, whose throughput `benchmarks.inference_speed`
measures. Requests draw texts from the ISEAR validation split with a fixed seed.

Figure: 5 rounds of 1,000 requests after a warm-up round; each round is paired with the baseline, the same texts
through `SensoryClassifier.predict_proba` in this process (batch 32, no HTTP), so the ratio is the serving stack's
cost per text relative to the model alone. Recorded: p50/p99/max latency over every timed request, requests/s and
texts/s per round (median), model calls (micro-batching), the server's peak RSS. Torch runs on `THREADS` threads in
both. Every round has a deadline; a round that overruns it fails the benchmark instead of hanging it.
Second figure: the same load on two servers of that model at once, `serve --backend onnx` (its fp32 export,
`model.onnx` in the model folder, written on first use) and `serve` with torch, rounds alternating; ratio = ONNX
round time / torch round time, with each backend's p50/p99 latency and requests/s.
`--quick`: 5 rounds of 60 requests.

    python -m benchmarks.serve_load [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from benchmarks.harness import Figure, paired_timings
from benchmarks.inference_speed import THREADS, cache_dir

REQUESTS, QUICK_REQUESTS = 5000, 300
ROUNDS = 5
CONCURRENCY = 32
MAX_TEXTS_PER_REQUEST = 4
ROUND_DEADLINE_S, QUICK_ROUND_DEADLINE_S = 120.0, 60.0
STARTUP_DEADLINE_S = 120.0
BACKBONE: dict[str, int] = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                                max_position_embeddings=128)
RECIPE: dict[str, Any] = dict(dataset="isear", sensory_mode="norms", fusion="paper", oov_embedder=None,
                              max_train_samples=1000,
                              epochs=3.0, batch_size=32, max_length=64, learning_rate=3e-3, seed=42,
                              early_stopping_patience=None, progress=False)


def small_model() -> Path:
    """The small fine-tuned model of `RECIPE` (trained on first use, cached under `inference_speed.cache_dir()`)."""
    from sensoryt5.training import TrainingConfig, train

    key = hashlib.sha256(json.dumps([BACKBONE, RECIPE], sort_keys=True).encode()).hexdigest()[:12]
    folder = cache_dir() / f"serve-small-bert-isear1000-{key}"
    if not (folder / "config.json").is_file():
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):  # the Trainer's logs
            train(TrainingConfig(output=str(folder), backbone=str(small_backbone(Path(tmp))), **RECIPE))
    return folder


def small_backbone(folder: Path) -> Path:
    """A randomly initialised small BERT with the MiniLM tokenizer, saved into `folder` like a downloaded one."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from sensoryt5.backbones import resolve_backbone

    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), **BACKBONE)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def request_texts(n_requests: int, seed: int = 0) -> list[list[str]]:
    """`n_requests` lists of 1-4 ISEAR validation texts, drawn with a fixed seed."""
    from sensoryt5.data import load_dataset

    pool = list(load_dataset("isear")["validation"]["text"])
    rng = np.random.default_rng(seed)
    return [[pool[i] for i in rng.integers(0, len(pool), size=rng.integers(1, MAX_TEXTS_PER_REQUEST + 1))]
            for _ in range(n_requests)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(model_dir: Path, port: int, log: Path, backend: str = "torch") -> Iterator[subprocess.Popen]:
    """`sensoryt5 serve MODEL_DIR --port PORT [--backend onnx]` in a subprocess, ready (GET /health answers) when
    entered."""
    import httpx

    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    device = ["--device", "cpu"] if backend == "torch" else ["--backend", backend]
    with log.open("w") as errors:
        server = subprocess.Popen([sys.executable, "-m", "sensoryt5", "serve", str(model_dir), "--host", "127.0.0.1",
                                   "--port", str(port), *device],
                                  stdout=subprocess.DEVNULL, stderr=errors, env=env)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with code {server.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health within {STARTUP_DEADLINE_S:.0f} s")
            time.sleep(0.2)
        yield server
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a running process in MiB; None where /proc is not available."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024.0
    except (OSError, StopIteration):
        return None


async def _load_round(url: str, requests: list[list[str]], deadline_s: float) -> tuple[list[float], list[str]]:
    """Send `requests` from `CONCURRENCY` concurrent clients; per-request latencies (s) and failure descriptions."""
    import httpx

    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for texts in requests:
        queue.put_nowait(texts)
    latencies: list[float] = []
    failures: list[str] = []

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            texts = queue.get_nowait()
            start = time.perf_counter()
            try:
                response = await http.post(url, json={"texts": texts})
                ok = response.status_code == 200 and len(response.json()["predictions"]) == len(texts)
                if not ok:
                    failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
            except (httpx.HTTPError, ValueError, KeyError) as error:
                failures.append(f"{type(error).__name__}: {error}")
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as http:
        try:
            await asyncio.wait_for(asyncio.gather(*(client(http) for _ in range(CONCURRENCY))), deadline_s)
        except asyncio.TimeoutError:
            failures.append(f"round overran its deadline of {deadline_s:.0f} s with {queue.qsize()} requests unsent")
    return latencies, failures


def measure(model_dir: Path, n_requests: int, deadline_s: float, name: str) -> Figure:
    """Paired rounds: the served requests against the in-process classifier on the same texts."""
    import httpx
    import torch

    from sensoryt5.classifier import SensoryClassifier

    torch.set_num_threads(THREADS)
    per_round = request_texts(n_requests // ROUNDS)
    flat = [text for texts in per_round for text in texts]
    classifier = SensoryClassifier.from_pretrained(model_dir, device="cpu")
    rounds: list[tuple[list[float], list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        with running_server(model_dir, port, Path(tmp) / "server.log") as server:
            url = f"http://127.0.0.1:{port}/v1/predict"
            load_before = os.getloadavg()[0]
            served, direct = paired_timings(lambda: rounds.append(asyncio.run(_load_round(url, per_round, deadline_s))),
                                            lambda: classifier.predict_proba(flat, batch_size=32),
                                            repeats=ROUNDS, warmup=1)
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5.0).json()
            server_peak = peak_rss_mib(server.pid)
    timed = rounds[1:]  # the first round is the untimed warm-up
    latencies = np.array([s for lat, _ in timed for s in lat]) * 1000.0
    failures = [f for _, fail in rounds for f in fail]  # the warm-up round's failures count too
    figure = Figure(
        name=name,
        candidate=f"sensoryt5 serve (subprocess, 127.0.0.1): {len(per_round)} POST /v1/predict of 1-"
                  f"{MAX_TEXTS_PER_REQUEST} texts from {CONCURRENCY} concurrent clients (httpx.AsyncClient)",
        baseline="SensoryClassifier.predict_proba on the same texts in this process, batch 32, no HTTP",
        unit="s/round",
        candidate_times=served,
        baseline_times=direct,
        target="zero failed requests",
        notes={
            "model": f"small BERT {BACKBONE['num_hidden_layers']} layers, hidden {BACKBONE['hidden_size']}, MiniLM "
                     f"tokenizer, fine-tuned on 1,000 ISEAR texts (paper fusion, norms)",
            "model_dev_macro_f1": round(json.loads((model_dir / "train_metrics.json").read_text())["dev"]["macro_f1"],
                                        4),
            "timed_requests": int(len(latencies)), "texts_per_round": len(flat), "failed_requests": len(failures),
            "first_failures": failures[:3],
            "latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 2),
                           "p99": round(float(np.percentile(latencies, 99)), 2),
                           "max": round(float(latencies.max()), 2)},
            "requests_per_s_median": round(len(per_round) / statistics.median(served), 1),
            "texts_per_s_median": round(len(flat) / statistics.median(served), 1),
            "direct_texts_per_s_median": round(len(flat) / statistics.median(direct), 1),
            "server": {"batch_wait_ms": 5.0, "max_batch_size": 64, "threads": THREADS,
                       "model_calls": health["model_calls"],
                       "texts_per_model_call": round(len(flat) * (ROUNDS + 1) / max(health["model_calls"], 1), 1),
                       "peak_rss_mib": None if server_peak is None else round(server_peak, 1)},
            "round_deadline_s": deadline_s,
            "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
    )
    figure.passed = not failures and len(latencies) == len(per_round) * ROUNDS
    return figure


def _latency_notes(rounds: list[tuple[list[float], list[str]]], n_requests: int, times: list[float]
                   ) -> dict[str, Any]:
    """p50/p99/max latency over the timed rounds (the first is the warm-up), failures, requests/s (median)."""
    timed = rounds[1:]
    latencies = np.array([s for lat, _ in timed for s in lat]) * 1000.0
    return {"latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 2),
                           "p99": round(float(np.percentile(latencies, 99)), 2),
                           "max": round(float(latencies.max()), 2)},
            "timed_requests": int(len(latencies)), "failed_requests": sum(len(fail) for _, fail in rounds),
            "requests_per_s_median": round(n_requests / statistics.median(times), 1)}


def measure_backends(model_dir: Path, n_requests: int, deadline_s: float, name: str) -> Figure:
    """The same load on `serve --backend onnx` (the fp32 export of `model_dir`) and on `serve` with torch, two
    servers up at once, their rounds alternating; ratio = ONNX round time / torch round time."""
    from sensoryt5.export import export_onnx

    if not (model_dir / "model.onnx").is_file():
        export_onnx(model_dir, model_dir / "model.onnx")
    per_round = request_texts(n_requests // ROUNDS)
    rounds: dict[str, list[tuple[list[float], list[str]]]] = {"onnx": [], "torch": []}
    with tempfile.TemporaryDirectory() as tmp:
        ports = {backend: free_port() for backend in rounds}
        with running_server(model_dir, ports["onnx"], Path(tmp) / "onnx.log", backend="onnx"), \
                running_server(model_dir, ports["torch"], Path(tmp) / "torch.log"):
            def load(backend: str) -> None:
                url = f"http://127.0.0.1:{ports[backend]}/v1/predict"
                rounds[backend].append(asyncio.run(_load_round(url, per_round, deadline_s)))

            load_before = os.getloadavg()[0]
            onnx_times, torch_times = paired_timings(lambda: load("onnx"), lambda: load("torch"), repeats=ROUNDS,
                                                     warmup=1)
    notes = {backend: _latency_notes(rounds[backend], len(per_round), times)
             for backend, times in (("onnx", onnx_times), ("torch", torch_times))}
    figure = Figure(
        name=name,
        candidate=f"sensoryt5 serve --backend onnx (fp32 model.onnx): {len(per_round)} POST /v1/predict of 1-"
                  f"{MAX_TEXTS_PER_REQUEST} texts from {CONCURRENCY} concurrent clients",
        baseline="sensoryt5 serve (torch backend), the same requests, rounds alternating",
        unit="s/round",
        candidate_times=onnx_times,
        baseline_times=torch_times,
        target="zero failed requests",
        notes={**{f"{backend}.{key}": value for backend, n in notes.items() for key, value in n.items()},
               "threads": THREADS, "round_deadline_s": deadline_s,
               "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
    )
    figure.passed = all(n["failed_requests"] == 0 and n["timed_requests"] == len(per_round) * ROUNDS
                        for n in notes.values())
    return figure


def run(quick: bool = False) -> list[Figure]:
    """Two figures: 5,000 timed requests (quick: 300) against the small fine-tuned model, served against the
    model alone, and served by the ONNX backend against the torch backend."""
    from sensoryt5.backbones import quiet_weight_loading

    with quiet_weight_loading():
        model_dir = small_model()
        if quick:
            return [measure(model_dir, QUICK_REQUESTS, QUICK_ROUND_DEADLINE_S, "serve_load/small-bert-quick"),
                    measure_backends(model_dir, QUICK_REQUESTS, QUICK_ROUND_DEADLINE_S,
                                     "serve_load/onnx-vs-torch-quick")]
        return [measure(model_dir, REQUESTS, ROUND_DEADLINE_S, "serve_load/small-bert"),
                measure_backends(model_dir, REQUESTS, ROUND_DEADLINE_S, "serve_load/onnx-vs-torch")]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(result.summary(), indent=2))
