"""The demo page in headless Chromium: type a sentence, click, check the emotion bars, the words shaded by their
Integrated Gradients contribution, and a word's breakdown by sense on hover and on click.

Needs Debian's `chromium` (`apt-get install -y chromium`); skipped without it unless SENSORYT5_REQUIRE_BROWSER=1 (CI),
which turns a missing browser into a failure. SENSORYT5_SAVE_SCREENSHOT=1 also saves docs/screenshot.png.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from sensoryt5.classifier import CONTRIBUTION_COLOURS, SENSE_COLOURS, SensoryClassifier
from sensoryt5.serving import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SENTENCE = "I smelled fresh bread and heard loud music, zxqvw!"
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    """Skip (or fail, when SENSORYT5_REQUIRE_BROWSER=1) without chromium or the playwright package."""
    missing = None
    if not Path(CHROMIUM).is_file():
        missing = f"{CHROMIUM} not found (install it with `apt-get install -y chromium`)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright Python package is not installed (pip install playwright)"
    if missing:
        if os.environ.get("SENSORYT5_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SENSORYT5_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def clf(model_dir) -> SensoryClassifier:
    _require_browser()
    return SensoryClassifier.from_pretrained(model_dir, device="cpu")


@pytest.fixture(scope="module")
def server_url(clf):
    """uvicorn serving the toy model on a free port, in a thread."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(clf), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour[1:], 16)
    return value >> 16, (value >> 8) & 255, value & 255


def test_page_shows_bars_and_coloured_words(clf, server_url, tmp_path):
    from playwright.sync_api import sync_playwright

    expected = clf.explain(SENTENCE, top_k=5)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(server_url + "/")
            page.wait_for_selector("#legend li", state="attached")
            page.fill("#text", SENTENCE)
            page.click("#analyse")
            page.wait_for_selector("#emotions .bar-row")
            page.wait_for_function("!document.querySelector('#analyse').disabled")

            legend = page.eval_on_selector_all("#legend li", "items => items.map(li => li.dataset.sense)")
            assert legend == list(SENSE_COLOURS)
            bars = page.eval_on_selector_all("#emotions .bar-row", """rows => rows.map(row => ({
                label: row.dataset.label, score: Number(row.dataset.score),
                width: row.querySelector('.fill').getBoundingClientRect().width,
                track: row.querySelector('.bar').getBoundingClientRect().width,
                text: row.querySelector('.score').textContent}))""")
            assert len(bars) == 3  # top 5 of the toy model's 3 emotions
            assert [b["label"] for b in bars] == [p["label"] for p in expected["predictions"]]
            for bar, prediction in zip(bars, expected["predictions"]):
                assert bar["score"] == pytest.approx(prediction["score"], abs=1e-5)
                assert bar["width"] / bar["track"] == pytest.approx(prediction["score"], abs=0.01)
                assert bar["text"] == f"{100 * prediction['score']:.1f}%"
            assert bars[0]["width"] >= bars[-1]["width"]

            sentence = page.inner_text("#sentence")
            assert sentence == SENTENCE  # the text as typed, punctuation included
            words = page.eval_on_selector_all("#sentence .word", """spans => spans.map(span => ({
                text: span.textContent, source: span.dataset.source,
                contribution: Number(span.dataset.contribution),
                background: getComputedStyle(span).backgroundColor}))""")
            assert [w["text"] for w in words] == ["I", "smelled", "fresh", "bread", "and", "heard", "loud", "music",
                                                  "zxqvw"]
            by_text = {w["text"]: w for w in words}
            scale = max(abs(word["contribution"]) for word in expected["words"])
            for word in expected["words"]:
                shown = by_text[SENTENCE[word["start"]:word["end"]]]
                assert shown["source"] == word["source"]
                assert shown["contribution"] == pytest.approx(word["contribution"], abs=1e-6)
                red, green, blue, *alpha = (float(x) for x in re.findall(r"[\d.]+", shown["background"]))
                end = CONTRIBUTION_COLOURS["positive" if word["contribution"] >= 0 else "negative"]
                assert (red, green, blue) == _rgb(end)
                assert (alpha or [1.0])[0] == pytest.approx(abs(word["contribution"]) / scale, abs=0.01)
            assert by_text["zxqvw"]["source"] == "missing"
            assert page.inner_text("#explained").startswith(f"Explaining {expected['explained']['label']}:")

            music = next(w for w in expected["words"] if SENTENCE[w["start"]:w["end"]] == "music")
            page.hover("#sentence .word >> text=music")
            page.wait_for_selector("#breakdown:not([hidden])")
            assert page.get_attribute("#breakdown", "data-word") == "music"
            rows = page.eval_on_selector_all("#breakdown .sense-row", """rows => rows.map(row => ({
                sense: row.dataset.sense, value: Number(row.dataset.value),
                colour: getComputedStyle(row.querySelector('.sense-fill')).backgroundColor}))""")
            assert [r["sense"] for r in rows] == list(music["senses"])
            for row in rows:
                assert row["value"] == pytest.approx(music["senses"][row["sense"]], abs=1e-6)
                assert row["colour"] == "rgb({}, {}, {})".format(*_rgb(SENSE_COLOURS[row["sense"]]))
            page.click("#sentence .word >> text=bread")
            assert page.get_attribute("#breakdown", "data-word") == "bread"
            assert page.inner_text("#status") == ""

            screenshot = tmp_path / "sensoryt5-page.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000 and screenshot.read_bytes()[:4] == b"\x89PNG"
    if os.environ.get("SENSORYT5_SAVE_SCREENSHOT"):
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(screenshot, REPO / "docs" / "screenshot.png")
    assert errors == []
