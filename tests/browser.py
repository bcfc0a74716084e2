"""Helpers for the end-to-end tests: start the dashboard as a user would and drive Debian's Chromium.

The server is started with the README's command (`streamlit run app/Home.py`) plus loopback-only
flags on a free port, by the same code as the load test's (`bench.lecture_hall.server`). Chromium
comes from Debian (`/usr/bin/chromium`), never from `playwright install`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from bench.lecture_hall.server import dashboard as lecture_hall_dashboard

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


@contextlib.contextmanager
def dashboard(home: Path, *, warmup: bool = False, timeout_s: float = 90):
    """Run `streamlit run app/Home.py` on 127.0.0.1 with AECORE_HOME=home; yields the base URL."""
    with lecture_hall_dashboard(home, warmup=warmup, timeout_s=timeout_s) as (url, _):
        yield url


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1600, touch: bool = False):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height}, has_touch=touch)
        finally:
            browser.close()


def wait_for_run_end(page, timeout_ms: int = 60000) -> None:
    """Wait until the page's script run has finished. Streamlit marks its app element with the run's
    state; its status widget says "Running" only once a run has taken a while, so an absent widget
    does not mean the run is over."""
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stApp"]')
                   ?.getAttribute('data-test-script-state') === 'notRunning'""", timeout=timeout_ms)


def wait_until_idle(page, timeout_ms: int = 60000) -> None:
    """Wait until the app is rendered and no script run is in progress."""
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=timeout_ms)  # every page has a title
    wait_for_run_end(page, timeout_ms)
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def draw_finger_stroke(page) -> None:
    """Draw a '1'-like vertical stroke with touch events (a tablet) on the last drawable canvas."""
    box = page.locator("canvas").last.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15
    cdp = page.context.new_cdp_session(page)  # Playwright itself only taps
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for k in range(1, 25):
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchMove", "touchPoints": [{"x": x + k * 0.6, "y": y + k * box["height"] * 0.028}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


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
