"""Serve a trained model over HTTP (FastAPI + uvicorn), with a demo page at `/`.

Endpoints:
- `POST /v1/predict` `{"texts": [...], "top_k": optional}` → `{"predictions": [[{"label", "score"}, ...], ...],
  "sensory_coverage": [...], "truncated": [...]}` (one ranked list per text, as `SensoryClassifier.predict`
  returns it; `truncated`: the text is longer than the model's window; with `long_text="chunk"` also `chunks`,
  each text's number of windows).
- `POST /v1/explain` `{"text": "...", "top_k": optional (5), "label": optional (the top class), "n_steps": optional,
  "attention": optional (false)}` → `SensoryClassifier.explain`'s result (Integrated Gradients per word and sense;
  an unknown label is a 422; a long text is explained on its first window, see `truncated`).
- `GET /v1/labels` → labels, multi-label thresholds, sensory dimensions, the sense and contribution colours and
  the server's limits.
- `GET /health` → `{"status": "ok", "model_calls": ..., "queued": ...}`.
- `GET /` → the demo page (`sensoryt5/static`).

Micro-batching: `/v1/predict` requests are put on an asyncio queue; one worker task takes the first waiting
request, keeps gathering for up to `batch_wait_ms` milliseconds or until `max_batch_size` texts are collected, and
runs the model once for all of them in a single model thread (the event loop stays free, and the model, which is
not thread-safe, sees one call at a time; explanations run on the same thread). The knobs:
- `max_batch_size` (default 64): most texts per model call, and most texts one request may send (more: 413).
- `batch_wait_ms` (default 5): the most a request waits for others to join its batch; raise it to batch more
  under heavy load, set 0 to run each request as soon as the model is free.
- `model_batch_size` (default 32): the padded batches the model runs inside one call (length-sorted).
- `max_text_length` (default 2000): most characters per text (more: 413).

Errors are JSON `{"error": "<one line>", "detail": ...}`: 413 for requests over the limits, 422 for malformed JSON,
wrong types, empty lists or unknown fields. Bad input never causes a 500.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sensoryt5.attribution import DEFAULT_STEPS
from sensoryt5.classifier import CONTRIBUTION_COLOURS, SENSE_COLOURS, SensoryClassifier
from sensoryt5.errors import OptionError
from sensoryt5.exported import find_onnx_file
from sensoryt5.long_text import check_long_text
from sensoryt5.model_folder import check_model_folder
from sensoryt5.texts import text_problem

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
STATIC = resources.files("sensoryt5") / "static"
TopK = Annotated[StrictInt, Field(ge=1, description="Return at most this many labels per text.")]
MAX_REQUEST_STEPS = 256  # most Integrated Gradients steps one /v1/explain request may ask for (each costs a batch row)


class PredictRequest(BaseModel):
    """Body of `POST /v1/predict`."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(min_length=1, description="The texts to classify (at least one).")
    top_k: TopK | None = None


class ExplainRequest(BaseModel):
    """Body of `POST /v1/explain`."""

    model_config = ConfigDict(extra="forbid")
    text: StrictStr = Field(description="The text to explain.")
    top_k: TopK | None = 5
    label: StrictStr | None = Field(None, description="The class to explain (default: the top class).")
    n_steps: StrictInt = Field(DEFAULT_STEPS, ge=2, le=MAX_REQUEST_STEPS,
                               description="Integrated Gradients steps to start with (doubled where |delta| > 0.01).")
    attention: StrictBool = Field(False, description="Also give each word the adapter's attention weight "
                                                     "(attention, not an explanation).")


class ApiError(Exception):
    """A request the server refuses: HTTP `status` with a one-line `message`."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail


@dataclass
class _Pending:
    """One request's texts and the future its probabilities [n, C] are delivered to."""

    texts: list[str]
    future: asyncio.Future


class MicroBatcher:
    """Gathers concurrent predictions into model batches: an asyncio queue and one worker task (see module doc).

    `predict(texts)` must return one result per text, sliced by rows (probabilities [len(texts), C], or
    `sensoryt5.long_text.Scores`); it runs on a single model thread, which `run` also uses for other model work.
    `calls` counts model calls.
    """

    def __init__(self, predict: Callable[[list[str]], Any], max_batch_size: int, wait_s: float) -> None:
        if max_batch_size < 1 or wait_s < 0:
            raise ValueError("max_batch_size must be at least 1 and the batch wait at least 0")
        self._predict, self.max_batch_size, self.wait_s = predict, max_batch_size, wait_s
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._carry: _Pending | None = None
        self.calls = 0

    @property
    def queued(self) -> int:
        """Requests waiting for the model."""
        return self._queue.qsize() + (self._carry is not None)

    def _ensure_worker(self) -> None:
        """Start the worker on the running loop (again, if a new loop serves the app, as in tests)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue, self._arrived, self._carry = loop, asyncio.Queue(), asyncio.Event(), None
            self._worker = loop.create_task(self._work())

    async def submit(self, texts: list[str]) -> Any:
        """The results of `texts` (at most `max_batch_size`; e.g. probabilities [len(texts), C]), computed in a
        shared batch."""
        if not 1 <= len(texts) <= self.max_batch_size:
            raise ValueError(f"submit between 1 and {self.max_batch_size} texts, got {len(texts)}")
        self._ensure_worker()
        pending = _Pending(texts, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        self._arrived.set()
        return await pending.future

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` on the model thread (one model call at a time)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sensoryt5-model")
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(function, *args))

    async def _gather(self) -> list[_Pending]:
        """The next batch: the first waiting request, then whatever arrives within the wait, up to the limit."""
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, size = [first], len(first.texts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while size < self.max_batch_size:
            if not self._queue.empty():
                item = self._queue.get_nowait()
                if size + len(item.texts) > self.max_batch_size:
                    self._carry = item  # starts the next batch
                    break
                batch.append(item)
                size += len(item.texts)
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                break
        return [item for item in batch if not item.future.done()]

    async def _work(self) -> None:
        """Forever: gather a batch, run the model on the model thread, hand each request its rows."""
        while True:
            batch = await self._gather()
            if not batch:
                continue
            texts = [text for item in batch for text in item.texts]
            try:
                results = await self.run(self._predict, texts)  # one row per text
            except Exception as error:  # a model failure is answered to every request of the batch
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                continue
            self.calls += 1
            offset = 0
            for item in batch:
                if not item.future.done():
                    item.future.set_result(results[offset:offset + len(item.texts)])
                offset += len(item.texts)

    async def stop(self) -> None:
        """Stop the worker and the model thread."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class BodyLimit:
    """ASGI middleware answering 413 to a request body over `limit` bytes, whether Content-Length declares it or it
    streams in chunks: the body is read, up to the limit, before the app sees it (and then replayed to it)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body read in advance, or answer 413 without calling the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(f"has {declared} bytes", int(declared))(scope, receive, send)
            return
        messages: list[Message] = []
        size, more = 0, True
        while more:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(f"(sent in chunks) has at least {size} bytes", size)(scope, receive, send)
                return
            more = message["type"] == "http.request" and message.get("more_body", False)
        pending = iter(messages)

        async def replay() -> Message:
            return next(pending, None) or await receive()

        await self.app(scope, replay, send)

    def _refuse(self, amount: str, received: int) -> JSONResponse:
        """The 413 answer; `received` is the bytes declared, or those read so far."""
        return JSONResponse({"error": f"the request body {amount}, over the limit of {self.limit}",
                             "detail": {"limit": self.limit, "received": received}}, status_code=413)


def _check_texts(texts: list[str], field: str, max_batch_size: int, max_text_length: int) -> None:
    """ApiError 413 for too many or too long texts, 422 for a text that breaks `sensoryt5.texts.text_problem`
    (blank, not valid Unicode), naming its index."""
    if len(texts) > max_batch_size:
        raise ApiError(413, f"{len(texts)} texts exceed the limit of {max_batch_size} per request; send them in "
                            f"several requests", {"limit": max_batch_size, "received": len(texts)})
    for i, text in enumerate(texts):
        where = f"{field}[{i}]" if field == "texts" else field
        if len(text) > max_text_length:
            raise ApiError(413, f"{where} has {len(text)} characters, over the limit of {max_text_length}",
                           {"limit": max_text_length, "received": len(text), "index": i})
        problem = text_problem(text)
        if problem:
            raise ApiError(422, f"{where} {problem.message}", [{"loc": ["body", field, i] if field == "texts"
                                                                else ["body", field], "msg": problem.message}])


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One line and a compact list (loc, msg, type; no echo of the input) from FastAPI's validation errors."""
    compact = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
               for e in errors]
    first = compact[0] if compact else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {len(compact) - 1} more)" if len(compact) > 1 else ""
    return f"invalid request: {where}: {first['msg']}{more}", compact


def _install_error_handlers(app: FastAPI) -> None:
    """Every error as JSON {"error": one line, "detail": ...}; undecodable bodies as 422, not 400."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message, "detail": error.detail}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        message, detail = _validation_message(list(error.errors()))
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type.lower():
            message = f"invalid request: send a JSON object with Content-Type: application/json, not {content_type}"
        return JSONResponse({"error": message, "detail": detail}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 400 and isinstance(error.__cause__, ValueError):  # FastAPI could not decode the body
            return JSONResponse({"error": f"invalid request: the body is not valid JSON ({error.__cause__})",
                                 "detail": [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]},
                                status_code=422)
        return JSONResponse({"error": str(error.detail), "detail": None}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))


def create_app(classifier: SensoryClassifier, max_batch_size: int = 64, max_text_length: int = 2000,
               batch_wait_ms: float = 5.0, model_batch_size: int = 32, long_text: str = "truncate",
               stride: int | None = None, chunk_aggregate: str | None = None) -> FastAPI:
    """The FastAPI app serving `classifier` (see the module docstring for endpoints, limits and knobs);
    `/v1/predict` reads long texts as `long_text`, `stride` and `chunk_aggregate` say (see
    `SensoryClassifier.scores`)."""
    if max_text_length < 1 or model_batch_size < 1:
        raise ValueError("max_text_length and model_batch_size must be at least 1")
    check_long_text(long_text, stride, chunk_aggregate)
    batcher = MicroBatcher(partial(classifier.scores, batch_size=model_batch_size, long_text=long_text,
                                   stride=stride, chunk_aggregate=chunk_aggregate), max_batch_size,
                           batch_wait_ms / 1000.0)
    max_body = max_batch_size * (6 * max_text_length + 16) + 4096  # JSON escapes take at most 6 bytes a char

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await batcher.stop()

    app = FastAPI(title="sensoryt5", summary="Sensory-aware emotion classification (SensoryT5)",
                  lifespan=lifespan)
    app.state.classifier, app.state.batcher = classifier, batcher
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=max_body)

    @app.post("/v1/predict")
    async def predict(body: PredictRequest) -> dict[str, Any]:
        """Ranked labels for each text (micro-batched with concurrent requests)."""
        _check_texts(body.texts, "texts", max_batch_size, max_text_length)
        scores = await batcher.submit(body.texts)  # probabilities [n, C], token counts [n]
        coverage = await batcher.run(classifier.sensory_coverage, body.texts)
        answer = {"predictions": [classifier.ranked(row, body.top_k) for row in scores.probabilities],
                  "sensory_coverage": coverage, "truncated": scores.truncated}
        if scores.chunks is not None:
            answer["chunks"] = scores.chunks.tolist()
        return answer

    @app.post("/v1/explain")
    async def explain(body: ExplainRequest) -> dict[str, Any]:
        """Each word's Integrated Gradients contribution (and its sensory part per sense), and the ranked labels."""
        _check_texts([body.text], "text", 1, max_text_length)
        if body.label is not None and body.label not in classifier.labels:
            raise ApiError(422, f"invalid request: unknown label {body.label!r}; this model's labels are "
                                f"{', '.join(classifier.labels)}")
        return await batcher.run(partial(classifier.explain, label=body.label, top_k=body.top_k,
                                         n_steps=body.n_steps, attention=body.attention), body.text)

    @app.get("/v1/labels")
    async def labels() -> dict[str, Any]:
        """Labels, thresholds, sensory dimensions, sense colours and limits."""
        return {"labels": classifier.labels, "multi_label": classifier.multi_label,
                "thresholds": classifier.thresholds, "sensory_dims": list(classifier.config.sensory_dims),
                "senses": SENSE_COLOURS, "contribution_colours": CONTRIBUTION_COLOURS,
                "max_batch_size": max_batch_size, "max_text_length": max_text_length}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness, with the number of model calls so far and the requests waiting."""
        return {"status": "ok", "model_calls": batcher.calls, "queued": batcher.queued}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        """The demo page."""
        return FileResponse(Path(str(STATIC / "index.html")))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port`; OptionError naming `--port` (or `--host`) when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise OptionError(f"--host {host}: not an address of this machine ({error.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a just-closed port is reusable
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OptionError(f"--port {port} is already in use on {host}; stop that server or choose another "
                              "--port") from None
        if error.errno == errno.EACCES:
            raise OptionError(f"--port {port}: permission denied (ports below 1024 need privileges); choose "
                              "another --port") from None
        raise OptionError(f"--host {host} --port {port}: cannot listen there ({error.strerror})") from None
    return sock


def serve(model_dir: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, max_batch_size: int = 64,
          max_text_length: int = 2000, batch_wait_ms: float = 5.0, model_batch_size: int = 32,
          device: str | None = None, log_level: str = "info", backend: str = "torch", long_text: str = "truncate",
          stride: int | None = None, chunk_aggregate: str | None = None) -> None:
    """Load `model_dir` and serve it with uvicorn until interrupted (binds to 127.0.0.1 unless told otherwise);
    `/v1/predict` reads long texts as `long_text`, `stride` and `chunk_aggregate` say.

    The body of `sensoryt5 serve`: a wrong folder or a taken port fails at once, before the model is loaded.
    `backend` is "torch" or "onnx" (see `SensoryClassifier.from_pretrained`; the ONNX file is logged once).
    """
    import uvicorn

    check_model_folder(model_dir, weights=backend != "onnx")
    check_long_text(long_text, stride, chunk_aggregate)
    if backend == "onnx":
        find_onnx_file(model_dir)
    sock = listening_socket(host, port)
    classifier = SensoryClassifier.from_pretrained(model_dir, device=device, backend=backend)
    app = create_app(classifier, max_batch_size=max_batch_size, max_text_length=max_text_length,
                     batch_wait_ms=batch_wait_ms, model_batch_size=model_batch_size, long_text=long_text,
                     stride=stride, chunk_aggregate=chunk_aggregate)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    address = f"[{host}]" if ":" in host else host
    log = logging.getLogger("uvicorn.error")  # configured by uvicorn.Config
    log.info("Serving %s on http://%s:%d (Ctrl+C to stop)", model_dir, address, port)
    if classifier.onnx_file is not None:
        log.info("Running %s with onnxruntime", classifier.onnx_file)
    uvicorn.Server(config).run(sockets=[sock])
