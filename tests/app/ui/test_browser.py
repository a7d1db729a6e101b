"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, against `streamlit run`
on a free 127.0.0.1 port with an empty data directory and the tiny checkpoint.

Upload a document (a new collection), ask a question, watch the answer stream, open the cited document
and see the evidence highlighted in view. Screenshots of every page go to artifacts/screenshots/; the
Ask page's also to docs/img/ui-ask.png (the README's picture) when that is missing or
DOCQA_UPDATE_README_SHOT=1.

Needs /usr/bin/chromium (scripts/install_browser.sh); skipped without it.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app.conftest import write_corpus
from tests.app.ui.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = REPO / "artifacts" / "screenshots"
README_SHOT = REPO / "docs" / "img" / "ui-ask.png"
WAIT_MS = 90_000  # one step (load the embedder, ingest, answer) on a shared 2-core CI machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs /usr/bin/chromium: run scripts/install_browser.sh"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not come up in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def server(tmp_path, checkpoint):
    """`streamlit run app/ui/main.py` on 127.0.0.1:<free port>, an empty data dir, the tiny model."""
    port = _free_port()
    env = {**os.environ, "DOCQA_DATA_DIR": str(tmp_path / "collections"), "DOCQA_MODEL": str(checkpoint),
           "DOCQA_TOKENIZER": str(checkpoint), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("DOCQA_SERVER_URL", "DOCQA_UI_CONFIG", "DOCQA_BUDGET"):
        env.pop(name, None)
    log = tmp_path / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "ui" / "main.py"),
           "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--client.toolbarMode", "minimal"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def _go(page, title: str) -> None:
    """Follow the sidebar's navigation link (same session, like a user)."""
    page.get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _upload(page, tmp_path: Path) -> None:
    sample = write_corpus(tmp_path / "corpus") / "patients" / "P0002.md"
    page.get_by_role("heading", name="Documents", exact=True).wait_for()
    name = page.get_by_label("New collection name")
    name.fill("demo")
    name.press("Enter")
    page.locator("input[type=file]").first.set_input_files(str(sample))
    page.get_by_text("P0002.md").first.wait_for()
    button = page.get_by_role("button", name="Ingest uploaded files")
    page.wait_for_function("(b) => !b.disabled", arg=button.element_handle())
    button.click()
    page.get_by_text(re.compile(r"demo: 1 added")).wait_for()


# Records every "Generating… N characters" status line and every streamed text with its cursor, as the
# page draws them (the tiny random model may stream only newlines: the counter still shows progress).
WATCH_STREAM = """() => {
  window.__stream = {status: [], cursor: 0};
  new MutationObserver(() => {
    const text = document.body.innerText;
    const m = text.match(/Generating… ([\\d,]+) characters/);
    if (m && !window.__stream.status.includes(m[1])) window.__stream.status.push(m[1]);
    if (text.includes('▌')) window.__stream.cursor += 1;
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _ask_and_watch_stream(page) -> None:
    page.evaluate(WATCH_STREAM)
    box = page.get_by_placeholder("Ask a question about demo")
    box.fill("When was warfarin started and what is the INR target?")
    box.press("Enter")
    page.get_by_text("Generated text: random weights, noise").wait_for()
    page.get_by_text(re.compile(r"Context: \d+ document\(s\) read")).wait_for()
    seen = page.evaluate("() => window.__stream")
    counts = [int(n.replace(",", "")) for n in seen["status"]]
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] > 0, seen  # it grew as it streamed
    assert seen["cursor"] >= 2, seen  # the text was redrawn with its cursor while streaming
    assert "▌" not in page.inner_text("body")  # and the cursor is gone once the answer is complete


def test_upload_ask_stream_cite_and_highlight(server, page, tmp_path):
    page.goto(server + "/documents")
    _upload(page, tmp_path)
    _shot(page, "documents")

    _go(page, "Ask")
    page.get_by_text("Test model with random weights").first.wait_for()
    _ask_and_watch_stream(page)

    page.get_by_role("button", name=re.compile(r"\[P0002\]")).first.click()
    mark = page.locator("mark.docqa-focus").first
    mark.wait_for(state="visible")
    page.wait_for_function("""() => { const m = document.querySelector('mark.docqa-focus');
        const r = m.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }""")
    assert mark.inner_text().strip()
    assert mark.inner_text().strip() in (tmp_path / "corpus" / "patients" / "P0002.md").read_text()
    ask_shot = _shot(page, "ask")
    if not README_SHOT.exists() or os.environ.get("DOCQA_UPDATE_README_SHOT") == "1":
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)  # a tracked file: not rewritten every run
        shutil.copyfile(ask_shot, README_SHOT)

    _go(page, "Model")
    page.get_by_text("Memory planner").wait_for()
    _shot(page, "model")
    _go(page, "Batch")
    page.get_by_role("button", name="Start").wait_for()
    _shot(page, "batch")
