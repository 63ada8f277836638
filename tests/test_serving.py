"""The HTTP API: predictions and explanations, limits (413), garbage (422, never 500) and micro-batching."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_inference import TEXTS

from sensoryt5.classifier import CONTRIBUTION_COLOURS, SENSE_COLOURS
from sensoryt5.serving import DEFAULT_HOST, create_app, serve

MAX_BATCH, MAX_LENGTH = 8, 100


@pytest.fixture(scope="module")
def client(clf):
    with TestClient(create_app(clf, max_batch_size=MAX_BATCH, max_text_length=MAX_LENGTH)) as client:
        yield client


def _same_predictions(got: list[list[dict]], expected: list[list[dict]]) -> None:
    assert [[p["label"] for p in r] for r in got] == [[p["label"] for p in r] for r in expected]
    np.testing.assert_allclose([p["score"] for r in got for p in r], [p["score"] for r in expected for p in r],
                               atol=1e-5)


def test_predict_matches_the_classifier(client, clf):
    response = client.post("/v1/predict", json={"texts": TEXTS[:6], "top_k": 2})
    assert response.status_code == 200
    _same_predictions(response.json()["predictions"], clf.predict(TEXTS[:6], top_k=2))
    everything = client.post("/v1/predict", json={"texts": ["sweet honey cake"]}).json()["predictions"]
    assert len(everything[0]) == 3 and everything[0][0]["label"] == "joy"


def test_explain_matches_the_classifier(client, clf):
    text = "I smelled fresh bread and heard zxqvw"
    response = client.post("/v1/explain", json={"text": text, "top_k": 2})
    assert response.status_code == 200
    body, direct = response.json(), clf.explain(text, top_k=2)
    assert body["text"] == text and len(body["predictions"]) == 2
    assert [(w["word"], w["source"], w["sense"], w["start"], w["end"]) for w in body["words"]] == [
        (w["word"], w["source"], w["sense"], w["start"], w["end"]) for w in direct["words"]]
    assert body["words"][1]["sense"] == "olfactory" and body["words"][-1]["source"] == "missing"
    np.testing.assert_allclose([w["contribution"] for w in body["words"]],
                               [w["contribution"] for w in direct["words"]], atol=1e-6)
    assert body["explained"] == direct["explained"] and "attention" not in body["words"][0]
    weights = client.post("/v1/explain", json={"text": text, "attention": True}).json()["words"]
    np.testing.assert_allclose([w["attention"] for w in weights],
                               [w["attention"] for w in clf.explain(text, attention=True)["words"]], atol=1e-5)


def test_labels_health_and_page(client, clf):
    labels = client.get("/v1/labels").json()
    assert labels["labels"] == clf.labels == ["disgust", "fear", "joy"]
    assert labels["multi_label"] is False and labels["thresholds"] is None
    assert labels["senses"] == SENSE_COLOURS and labels["contribution_colours"] == CONTRIBUTION_COLOURS
    assert (labels["max_batch_size"], labels["max_text_length"]) == (MAX_BATCH, MAX_LENGTH)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_calls"] >= 0 and health["queued"] == 0
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert "/v1/explain" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200


def test_binds_to_localhost_by_default():
    assert DEFAULT_HOST == "127.0.0.1" and inspect.signature(serve).parameters["host"].default == "127.0.0.1"


@pytest.mark.parametrize("path, payload, message", [
    ("/v1/predict", {"texts": ["a"] * (MAX_BATCH + 1)}, f"9 texts exceed the limit of {MAX_BATCH}"),
    ("/v1/predict", {"texts": ["ok", "a" * (MAX_LENGTH + 1)]}, "texts[1] has 101 characters, over the limit"),
    ("/v1/explain", {"text": "a" * (MAX_LENGTH + 1)}, "text has 101 characters"),
])
def test_over_the_limits_is_413(client, path, payload, message):
    response = client.post(path, json=payload)
    assert response.status_code == 413
    assert message in response.json()["error"]


def test_a_huge_body_is_413_before_parsing(client):
    response = client.post("/v1/predict", content=b"[" * 2_000_000, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over the limit" in response.json()["error"]


GARBAGE = [
    ("binary", bytes(range(256)) * 4, "application/json", "body"),
    ("not UTF-8", b'{"texts": ["caf\xe9"]}', "application/json", "not valid JSON"),
    ("truncated JSON", b'{"texts": ["a"', "application/json", "JSON decode error"),
    ("wrong content type", b'{"texts": ["a"]}', "text/plain", "with Content-Type: application/json, not text/plain"),
    ("form", b"texts=a", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    ("empty body", b"", "application/json", "Field required"),
    ("null texts", b'{"texts": null}', "application/json", "body.texts: Input should be a valid list"),
    ("empty list", b'{"texts": []}', "application/json", "at least 1 item"),
    ("null text", b'{"texts": ["a", null]}', "application/json", "body.texts.1: Input should be a valid string"),
    ("nested lists", b'{"texts": [["a"]]}', "application/json", "body.texts.0: Input should be a valid string"),
    ("number", b'{"texts": [42]}', "application/json", "body.texts.0"),
    ("object", b'{"texts": {"a": 1}}', "application/json", "valid list"),
    ("bare list", b'["a"]', "application/json", "valid dictionary"),
    ("misspelt field", b'{"text": ["a"]}', "application/json", "body.texts: Field required"),
    ("extra field", b'{"texts": ["a"], "topk": 2}', "application/json", "body.topk: Extra inputs"),
    ("top_k zero", b'{"texts": ["a"], "top_k": 0}', "application/json", "greater than or equal to 1"),
    ("top_k text", b'{"texts": ["a"], "top_k": "3"}', "application/json", "valid integer"),
    ("top_k bool", b'{"texts": ["a"], "top_k": true}', "application/json", "valid integer"),
    ("lone surrogate", b'{"texts": ["\\ud800"]}', "application/json",
     "texts[0] cannot be read: it holds a lone surrogate"),
    ("blank text", b'{"texts": ["fine", " \\n "]}', "application/json", "texts[1] is blank"),
    ("empty text", b'{"texts": [""]}', "application/json", "texts[0] is blank"),
]


@pytest.mark.parametrize("name, body, content_type, message", GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_is_422_with_a_clear_message(client, name, body, content_type, message):
    response = client.post("/v1/predict", content=body, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    error = response.json()
    assert isinstance(error["error"], str) and message in error["error"]
    assert error["detail"] and all("loc" in item and "msg" in item for item in error["detail"])


@pytest.mark.parametrize("body", [b'{"text": null}', b'{"text": ["a"]}', b'{"texts": ["a"]}', b"\x00\xff",
                                  b'{"text": "\\udc80"}', b'{"text": "  "}'])
def test_explain_garbage_is_422(client, body):
    response = client.post("/v1/explain", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"].startswith(("invalid request", "text "))


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/v1/nothing").json() == {"error": "Not Found", "detail": None}
    response = client.get("/v1/predict")
    assert response.status_code == 405 and response.json()["error"] == "Method Not Allowed"


def test_concurrent_requests_are_micro_batched(clf, monkeypatch):
    calls: list[int] = []
    scores = clf.scores

    def counting(texts, **kw):
        calls.append(len(texts))
        return scores(texts, **kw)

    monkeypatch.setattr(clf, "scores", counting)
    app = create_app(clf, max_batch_size=MAX_BATCH, max_text_length=MAX_LENGTH, batch_wait_ms=200)
    rng = np.random.default_rng(1)
    requests = [[str(t) for t in rng.choice(TEXTS, size=rng.integers(1, 4))] for _ in range(12)]

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sensoryt5") as http:
            responses = await asyncio.gather(*(http.post("/v1/predict", json={"texts": texts, "top_k": 2})
                                               for texts in requests))
            health = (await http.get("/health")).json()
        await app.state.batcher.stop()
        return responses, health

    responses, health = asyncio.run(send_all())
    monkeypatch.undo()
    assert all(r.status_code == 200 for r in responses)
    total = sum(len(texts) for texts in requests)
    assert sum(calls) == total and max(calls) <= MAX_BATCH
    assert len(calls) < len(requests) and len(calls) >= -(-total // MAX_BATCH)  # batched, within the limit
    assert health["model_calls"] == len(calls)
    for texts, response in zip(requests, responses):
        _same_predictions(response.json()["predictions"], clf.predict(texts, top_k=2))


def test_a_new_event_loop_gets_a_new_worker(clf):
    app = create_app(clf, max_batch_size=MAX_BATCH, max_text_length=MAX_LENGTH)
    for _ in range(2):  # each TestClient runs the app on its own event loop
        with TestClient(app) as client:
            response = client.post("/v1/predict", json={"texts": ["sweet honey cake"]})
            assert response.status_code == 200 and response.json()["predictions"][0][0]["label"] == "joy"
