"""Helpers for the end-to-end tests: start the dashboard as a user would and drive Debian's Chromium.

The server is started with the README's command (`streamlit run app/Home.py`) plus loopback-only
flags on a free port. Chromium comes from Debian (`/usr/bin/chromium`), never from `playwright install`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LATENTLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int, env: dict) -> tuple[subprocess.Popen, Path]:
    """Start `streamlit run app/Home.py` on 127.0.0.1:`port`; (the process, its log file)."""
    log_path = home / f"streamlit-{port}.log"
    with open(log_path, "w") as log:  # the server keeps its own copy of the file descriptor
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/Home.py", "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return server, log_path


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()


@contextlib.contextmanager
def dashboard(home: Path, *, warmup: bool = False, timeout_s: float = 90):
    """Run `streamlit run app/Home.py` on 127.0.0.1 with AECORE_HOME=home; yields the base URL."""
    port = free_port()
    env = {**os.environ, "AECORE_HOME": str(home), "LATENTLAB_WARMUP": "1" if warmup else "0"}
    server, log = start_server(home, port, env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dashboard did not start; see {log}")
                time.sleep(0.3)
        yield url
    finally:
        stop_server(server)


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1600):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def wait_until_idle(page, timeout_ms: int = 60000) -> None:
    """Wait until the app is rendered and no script run is in progress."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)  # every page has a title
    page.wait_for_function(
        """() => { const w = document.querySelector('[data-testid="stStatusWidget"]');
                   return !w || !w.innerText.includes('Running'); }""", timeout=timeout_ms)
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def draw_stroke(page, canvas_index: int = -1) -> None:
    """Draw a '1'-like vertical stroke with mouse events on a drawable canvas."""
    canvases = page.locator("canvas")
    canvas = canvases.nth(canvas_index) if canvas_index >= 0 else canvases.last
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 25):
        page.mouse.move(x + k * 0.6, y + k * box["height"] * 0.028)
    page.mouse.up()
