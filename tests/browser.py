"""Helpers for the end-to-end tests: start the dashboard as a user would and drive Debian's Chromium.

The server is started with the README's command (`python -m streamlit run app/Home.py`) plus loopback-only
flags on a free port, by the same code as the load test's (`bench.lecture_hall.server`). Chromium
comes from Debian (`/usr/bin/chromium`), never from `playwright install`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

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


# Every browser test module's marks: selectable with -m browser, skipped with its reason where it cannot run.
BROWSER_TEST = [pytest.mark.browser, pytest.mark.skipif(missing_browser_reason() is not None,
                                                        reason=missing_browser_reason() or "")]


@contextlib.contextmanager
def dashboard(home: Path, *, warmup: bool = False, timeout_s: float = 90):
    """Run `python -m streamlit run app/Home.py` on 127.0.0.1 with AECORE_HOME=home; yields the base URL."""
    with lecture_hall_dashboard(home, warmup=warmup, timeout_s=timeout_s) as (url, _):
        yield url


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1600, touch: bool = False, scale: float = 1):
    """A Chromium page of `width` x `height` CSS pixels; `scale` is the device scale factor (1.5 for
    a display at 150% zoom)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height}, has_touch=touch,
                                   device_scale_factor=scale)
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


def go_to(page, path: str) -> None:
    """Click the sidebar's link to the page at `/path` ("" for Home), as a person does (a new URL would
    start a new session), and wait until that page has run."""
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
    page.wait_for_function("path => location.pathname.replace(/\\/$/, '').endsWith(path)", arg=path, timeout=30000)
    page.wait_for_timeout(300)  # the new run has started
    wait_until_idle(page)


def query(page) -> dict[str, str]:
    """The page's URL query string, where each page writes its settings."""
    from urllib.parse import parse_qsl, urlsplit
    return dict(parse_qsl(urlsplit(page.url).query))


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


def draw_stroke(page, canvas_index: int = -1, start_px: float | None = None) -> None:
    """Draw a '1'-like vertical stroke with mouse events on a drawable canvas, from 15% of its height
    down (or from `start_px` CSS pixels below its top)."""
    canvases = page.locator("canvas")
    canvas = canvases.nth(canvas_index) if canvas_index >= 0 else canvases.last
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + (box["height"] * 0.15 if start_px is None else start_px)
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 25):
        page.mouse.move(x + k * 0.6, y + k * box["height"] * 0.028)
    page.mouse.up()


# ---- the Embeddings map (an ECharts chart: app.figures.map_chart) ----------------------------------
MAP = '[class*="st-key-emb-kept-"] [data-testid="stEChartsChart"]'  # not the small PCA beside a map
# The maps on screen (the page keeps others, hidden): [first word of the title, whether marked by a test].
SHOWN_MAPS = f"""() => [...document.querySelectorAll('{MAP}')]
                        .filter(m => m.checkVisibility({{visibilityProperty: true}}) && m.querySelector('canvas'))
                        .map(m => [(m.getAttribute('aria-label') || '').split(' ')[0], !!m.__marked])"""


def shown_map(page):
    """The map on screen (a locator): the page keeps others, hidden."""
    return page.locator(MAP).filter(has=page.locator("canvas")).locator("visible=true").first


def click_map_button(page, button: str) -> None:
    """Click a button of the shown map's toolbox (one of figures.MAP_BUTTONS). ECharts draws the
    buttons on its canvas: they are found as the marks drawn in the toolbox's band at the top right."""
    from app.figures import MAP_BUTTONS, MAP_TOOLBOX

    shown = shown_map(page)
    box = shown.bounding_box()
    band = [MAP_TOOLBOX["top"], MAP_TOOLBOX["top"] + MAP_TOOLBOX["itemSize"]]
    marks = shown.locator("canvas").first.evaluate("""(canvas, [top, bottom]) => {
        const scale = canvas.width / canvas.clientWidth, width = Math.round(300 * scale);
        const rows = Math.round((bottom - top) * scale), x0 = canvas.width - width;
        const pixels = canvas.getContext('2d').getImageData(x0, Math.round(top * scale), width, rows).data;
        const marks = [];  // [first, last] columns of each drawn mark, left to right
        for (let x = 0; x < width; x++) {
            let drawn = false;
            for (let y = 0; y < rows && !drawn; y++) {
                const i = (y * width + x) * 4;
                drawn = pixels[i + 3] > 0 && Math.min(pixels[i], pixels[i + 1], pixels[i + 2]) < 220;
            }
            if (!drawn) continue;
            if (marks.length && x - marks[marks.length - 1][1] <= 3) marks[marks.length - 1][1] = x;
            else marks.push([x, x]);
        }
        return marks.map(([a, b]) => (x0 + (a + b) / 2) / scale);
    }""", band)
    assert len(marks) >= len(MAP_BUTTONS), f"the map's toolbox was not found: {marks}"
    x = marks[len(marks) - len(MAP_BUTTONS) + MAP_BUTTONS.index(button)]
    page.mouse.click(box["x"] + x, box["y"] + sum(band) / 2)


def drag_on_map(page, path: list[tuple[float, float]]) -> None:
    """Press, move through `path` (fractions of the shown map's width and height), release."""
    shown = shown_map(page)
    box = shown.bounding_box()
    at = [(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy) for fx, fy in path]
    page.mouse.move(*at[0])
    page.mouse.down()
    for point in at[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


# ---- the Lessons page --------------------------------------------------------------------------------

def settle(page, timeout_s: float = 300) -> None:
    """Wait until the page has run and nothing it needs is still training or fitting (the page reruns
    when a job ends), then check it shows no error."""
    import time
    deadline = time.monotonic() + timeout_s
    while True:
        wait_until_idle(page, 180000)
        if page.locator('[data-testid="stProgress"]').count() == 0:
            page.wait_for_timeout(300)
            if page.locator('[data-testid="stProgress"]').count() == 0:
                break
        assert time.monotonic() < deadline, "a model or map did not finish"
        page.wait_for_timeout(1000)
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
    assert not errors, errors


def press(page, key: str) -> None:
    """Press `key` and wait until the page has settled."""
    page.keyboard.press(key)
    page.wait_for_timeout(400)
    settle(page)


def lesson_heading(page) -> str:
    """The shown lesson step's heading, "Step n of N: ..."."""
    return page.locator('[data-testid="stMain"] h4').first.inner_text()


def guess_on_map(page) -> None:
    """Click the middle of the lesson view's chart: a guess taken by the view itself."""
    chart = page.locator('.st-key-lesson-view [data-testid="stPlotlyChart"]').first
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_timeout(600)
    settle(page)


def walk_lesson(page, lesson) -> None:
    """Walk `lesson` (an app.lessons Lesson, open at its first step) with → alone; on each predict step
    guess (option 2 by its key, or a click on the view's map), see that nothing is revealed yet, reveal
    with →, and read the answer. Screenshots each step as `lesson-<slug>-<n>[-revealed]`."""
    import re
    for n, step in enumerate(lesson.steps, 1):
        assert lesson_heading(page).startswith(f"Step {n} of {len(lesson.steps)}"), lesson_heading(page)
        assert query(page)["lesson"] == lesson.slug and query(page)["step"] == str(n)
        # a picture, a chart, a table or a measured figure in the view (a chart's script loads after the run)
        page.wait_for_selector(".st-key-lesson-view :is(img, canvas, svg, table, [data-testid='stMetric'])",
                               timeout=30000)
        assert page.locator(".st-key-lesson-view [class*='-hl-']").count() > 0, f"step {n} highlights nothing"
        screenshot(page, f"lesson-{lesson.slug}-{n}")
        if step.predict is not None:
            assert page.locator(".st-key-lesson-answer").count() == 0  # no answer before a guess
            if step.predict.options:
                press(page, "2")  # the second option, by its number key
                guess = step.predict.options[1]
                assert page.locator(f'[data-testid="stMain"] button:has-text("{guess}")').first.get_attribute(
                    "kind") == "primary"  # the chosen option is marked
            else:
                guess_on_map(page)
            assert page.locator(".st-key-lesson-answer").count() == 0  # a guess alone reveals nothing
            press(page, "ArrowRight")  # → reveals first
            answer = page.locator(".st-key-lesson-answer").inner_text()
            assert "Your guess" in answer and (not step.predict.options or f"Your guess: {guess}" in answer), answer
            if step.predict.options:
                assert re.search("Answer: (" + "|".join(map(re.escape, step.predict.options)) + ")", answer)
            screenshot(page, f"lesson-{lesson.slug}-{n}-revealed")
            assert lesson_heading(page).startswith(f"Step {n} of")  # still on the step
        press(page, "ArrowRight")
