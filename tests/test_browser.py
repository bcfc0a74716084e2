"""End to end in a real browser: the dashboard started with the README's command, driven by Playwright
in Debian's Chromium. Screenshots of every page are saved under artifacts/screenshots/.

Skipped, with the reason, where Chromium or Playwright is missing; `.ci/run` installs both.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.browser import (
    BROWSER_TEST,
    MAP,
    ROOT,
    SHOWN_MAPS,
    browser_page,
    click_map_button,
    dashboard,
    drag_on_map,
    draw_finger_stroke,
    draw_stroke,
    screenshot,
    shown_map,
    wait_until_idle,
)

pytestmark = BROWSER_TEST

PAGES = ["", "train", "draw", "latent_grid", "embeddings", "filters", "denoise", "stacked", "models"]


def _train(home, *args):
    subprocess.run([sys.executable, "-m", "aecore", "train", "--dataset", "mnist-sample", *args],
                   cwd=ROOT, env={"AECORE_HOME": str(home), "PATH": "/usr/bin:/bin"}, check=True,
                   capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory):
    """A data home with the lecture's default ae and vae trained (what `prepare` would leave)."""
    home = tmp_path_factory.mktemp("lab")
    _train(home, "--model", "ae")
    _train(home, "--model", "vae")
    return home


def _exceptions(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def test_every_page_opens_without_models(tmp_path):
    with dashboard(tmp_path) as url, browser_page() as page:
        for path in PAGES:
            page.goto(f"{url}/{path}")
            wait_until_idle(page)
            assert not _exceptions(page), (path, _exceptions(page))
            assert page.locator("h1").count() >= 1, f"page /{path} shows no title"
            screenshot(page, f"empty-{path or 'home'}")
        # Nested paths (a mistyped or stale link) show the app, not a blank white page.
        for nested, title in [("train/extra", "Train"), ("draw/a/b?dkind=gaussian", "Draw & reconstruct"),
                              ("no-such-page/extra", None)]:
            page.goto(f"{url}/{nested}")
            wait_until_idle(page)
            assert not _exceptions(page), (nested, _exceptions(page))
            shown = page.locator('[data-testid="stMain"] h1').first.inner_text()
            assert title is None or shown == title, (nested, shown)
        screenshot(page, "nested-path")


def test_every_page_opens_with_models(lab_home):
    with dashboard(lab_home) as url, browser_page() as page:
        for path in PAGES:
            page.goto(f"{url}/{path}")
            wait_until_idle(page)
            page.wait_for_timeout(1500)  # let charts and images paint before the screenshot
            assert not _exceptions(page), (path, _exceptions(page))
            screenshot(page, f"trained-{path or 'home'}")


# Time-stamps, on the page's clock, the last mouse release and every message the page sends the server.
_SEND_LOG = """
(() => {
  const sent = window.__sent = [];
  class LoggedSocket extends window.WebSocket {
    send(data) { sent.push(performance.now()); return super.send(data); }
  }
  window.WebSocket = LoggedSocket;
  const up = () => { window.__mouseUp = performance.now(); };
  document.addEventListener('mouseup', up, true);
  document.addEventListener('touchend', up, true);
})();
"""


def _sends_after_release(page) -> list[float]:
    """Milliseconds from the last release to each message the page sent after it."""
    page.wait_for_timeout(400)  # past the canvas's own 200 ms wait, in case it sends again
    return page.evaluate("() => window.__sent.filter(t => t >= window.__mouseUp).map(t => t - window.__mouseUp)")


@pytest.mark.parametrize("pointer", ["mouse", "finger"])
def test_a_stroke_is_sent_as_it_is_released_and_shows_a_reconstruction(lab_home, pointer):
    """With a mouse, and with a finger as on a lecture hall's tablet: touch events take their own path
    through the canvas and app.canvas."""
    images = '[data-testid="stMain"] [data-testid="stImage"] img'
    with dashboard(lab_home) as url, browser_page(touch=pointer == "finger") as page:
        page.add_init_script(_SEND_LOG)
        page.goto(f"{url}/draw")
        wait_until_idle(page)
        page.wait_for_selector("canvas", timeout=30000)
        # The home has no lecture dae: the page trains it for its test grid, and the training panel's timer
        # (st.fragment run_every) sends a rerun every second or two, which would count as a second send.
        # Draw once the grid shows, the training over.
        page.get_by_text("Test digits", exact=True).first.wait_for(timeout=240000)
        wait_until_idle(page)
        images_before = page.locator(images).count()
        (draw_finger_stroke if pointer == "finger" else draw_stroke)(page)
        released = time.perf_counter()
        # the blank canvas shows no digit images up top; a stroke adds the input and the reconstructions
        page.wait_for_function(f"() => document.querySelectorAll('{images}').length >= {images_before + 2}",
                               timeout=20000)
        latency = time.perf_counter() - released
        wait_until_idle(page)
        # The canvas on its own sends 200 ms after the release; app.canvas makes it send at once, once.
        sends = _sends_after_release(page)
        assert len(sends) == 1, f"the stroke was sent {len(sends)} times, {sends} ms after the release"
        assert sends[0] < 150, f"the stroke was sent {sends[0]:.0f} ms after the release, not at once"
        assert not _exceptions(page)
        screenshot(page, f"draw-after-{pointer}-stroke")
        print(f"stroke released -> reconstruction visible: {latency * 1000:.0f} ms")


def test_loss_chart_updates_while_training(tmp_path):
    with dashboard(tmp_path) as url, browser_page() as page:
        # A run long enough to watch on a fast machine too (six epochs once ended within one chart
        # refresh here): the test stops it as soon as it has seen the chart change.
        page.goto(f"{url}/train?family=dae&hidden=1000&epochs=50&batch=64")
        wait_until_idle(page)
        page.get_by_role("button", name="Train", exact=False).first.click()
        page.wait_for_selector('[data-testid="stProgress"]', timeout=30000)

        # The live loss curve and latent scatter are ECharts charts drawn on canvases. Each refresh must
        # redraw the same canvas with new data: a new chart per refresh costs the run the browser's CPU.
        charts = '[data-testid="stEChartsChart"] canvas'
        page.wait_for_function(f"() => document.querySelectorAll('{charts}').length >= 2", timeout=90000)
        page.wait_for_timeout(500)  # the first frame painted
        first = page.evaluate(f"""() => [...document.querySelectorAll('{charts}')].map(c => {{
                                   c.dataset.seen = '1'; return c.toDataURL(); }})""")
        page.wait_for_function(f"""(first) => document.querySelector('{charts}').toDataURL() !== first[0]""",
                               arg=first, timeout=60000)
        assert page.locator('[data-testid="stProgress"]').count() == 1, "the run ended before the chart was seen change"
        seen = page.evaluate(f"() => [...document.querySelectorAll('{charts}')].map(c => c.dataset.seen === '1')")
        assert seen[:2] == [True, True], f"a refresh mounted new charts instead of updating them: {seen}"
        screenshot(page, "train-live")
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("was stopped after").first.wait_for(timeout=30000)
        assert not _exceptions(page)


@pytest.mark.parametrize("tool", ["rect", "polygon"])
def test_a_box_or_lasso_dragged_on_the_map_shows_those_digits(lab_home, tool):
    """The user picks the box or the lasso in the map's toolbox and drags around points: the page shows
    those digits, until a double-click on the map clears the selection."""
    with dashboard(lab_home) as url, browser_page() as page:
        page.goto(f"{url}/embeddings?data=mnist-sample&method=pca&points=1000")
        page.wait_for_function(f"() => JSON.stringify(({SHOWN_MAPS})()) === '[[\"PCA\",false]]'", timeout=60000)
        wait_until_idle(page)
        click_map_button(page, tool)
        around = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.32)] if tool == "polygon" else \
            [(0.3, 0.3), (0.5, 0.5), (0.7, 0.7)]
        drag_on_map(page, around)
        page.get_by_text("selected digits").first.wait_for(timeout=30000)
        wait_until_idle(page)
        heading = page.get_by_text("selected digits").first.inner_text()
        assert int(heading.split()[0]) > 20, heading  # the middle of the map is dense
        assert page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count() >= 1
        assert not _exceptions(page)
        screenshot(page, f"embeddings-selection-{tool}")
        box = shown_map(page).bounding_box()
        # a double-click clears the selection, as the caption says
        page.mouse.dblclick(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.get_by_text("selected digits").first.wait_for(state="detached", timeout=30000)


def test_switching_back_to_a_map_shows_the_chart_already_on_the_page(lab_home):
    """Embeddings keeps the last map of each method mounted, hidden: PCA -> t-SNE -> PCA shows the same
    chart again instead of a new one."""
    with dashboard(lab_home) as url, browser_page() as page:
        page.goto(f"{url}/embeddings?data=mnist-sample&method=pca&points=250")
        page.wait_for_function(f"() => ({SHOWN_MAPS})().length === 1", timeout=60000)
        wait_until_idle(page)
        assert page.evaluate(SHOWN_MAPS) == [["PCA", False]]
        page.evaluate(f"() => {{ document.querySelector('{MAP}').__marked = true; }}")
        page.get_by_test_id("stRadioGroup").get_by_text("t-SNE", exact=True).click()
        page.wait_for_function(f"() => JSON.stringify(({SHOWN_MAPS})()) === '[[\"t-SNE\",false]]'",
                               timeout=60000)
        wait_until_idle(page)
        page.get_by_test_id("stRadioGroup").get_by_text("PCA", exact=True).click()
        page.wait_for_function(f"() => ({SHOWN_MAPS})()[0]?.[0] === 'PCA'", timeout=30000)
        wait_until_idle(page)
        assert page.evaluate(SHOWN_MAPS) == [["PCA", True]]  # the very element shown first, and only it
        assert page.locator(MAP).count() == 2  # t-SNE's, hidden
        assert not _exceptions(page)


def test_settings_survive_a_visit_to_another_page(lab_home):
    """Streamlit forgets the value of a widget a run does not draw, and a page switch drops the URL's
    query string: without the kept settings (app.settings) the map came back as UMAP of 2,000 digits, seed 0."""
    def seed_and_url():
        field = page.locator('[data-testid="stMain"] [data-testid="stNumberInputField"]').first
        return field.input_value(), page.url

    with dashboard(lab_home) as url, browser_page() as page:
        page.goto(f"{url}/embeddings?data=mnist-sample&method=pca&points=250&seed=7")
        wait_until_idle(page)
        assert seed_and_url()[0] == "7"
        page.locator('[data-testid="stSidebarNav"] a', has_text="Home").click()
        page.wait_for_function("() => !location.pathname.includes('embeddings')", timeout=30000)
        wait_until_idle(page)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Embeddings").click()
        page.wait_for_function(f"() => ({SHOWN_MAPS})().length === 1", timeout=60000)
        wait_until_idle(page)
        seed, address = seed_and_url()
        assert seed == "7" and "method=pca" in address and "points=250" in address, address
        assert page.evaluate(SHOWN_MAPS)[0][0] == "PCA"
        assert not _exceptions(page)


def _upload(page, name: str, data: bytes, mime: str = "image/png") -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])


def _remove_upload(page) -> None:
    page.locator('[data-testid="stFileChipDeleteBtn"] button').first.click()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stFileChip\"]')", timeout=20000)
    wait_until_idle(page)


def test_bad_uploads_get_a_one_line_message_and_a_good_one_is_used(lab_home):
    """Odd files through the Draw page's upload box, as a student would send them: each is refused
    with one sentence (no traceback), and the page goes on to take a real photo of a digit."""
    import io

    import numpy as np
    from PIL import Image

    from tests.test_user_images import ell_image, png_bytes, png_header_only

    noise = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)))
    bad = {
        "not-an-image.png": (b"hello, this is not an image", "Could not use that image"),
        "truncated.png": (noise[: len(noise) // 2], "Could not use that image"),
        "bomb.png": (png_header_only(20_000, 20_000), "too many pixels"),
        "blank.png": (png_bytes(Image.new("L", (64, 64), 255)), "No digit found"),
    }
    with dashboard(lab_home) as url, browser_page() as page:
        page.goto(f"{url}/draw")
        wait_until_idle(page)
        page.get_by_text("…or upload a photo of a digit").click()
        for name, (data, message) in bad.items():
            _upload(page, name, data)
            page.get_by_text(message).first.wait_for(timeout=20000)
            wait_until_idle(page)
            assert not _exceptions(page), (name, _exceptions(page))
            alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
            assert any(message in a and len(a.splitlines()) <= 2 for a in alerts), (name, alerts)
            _remove_upload(page)

        # Larger than the 10 MiB limit: the upload box itself refuses it, and nothing reaches the server.
        _upload(page, "huge.png", b"\x89PNG\r\n\x1a\n" + bytes(11 * 2**20))
        page.get_by_text("10.0MB", exact=False).first.wait_for(timeout=20000)
        assert not _exceptions(page)
        page.reload()
        wait_until_idle(page)
        page.get_by_text("…or upload a photo of a digit").click()

        buffer = io.BytesIO()
        ell_image("RGBA").save(buffer, format="PNG")
        images_before = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count()
        _upload(page, "digit.png", buffer.getvalue())
        page.get_by_text("Using the uploaded image").wait_for(timeout=20000)
        page.wait_for_function(
            f"""() => document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img').length
                      >= {images_before + 2}""", timeout=20000)
        wait_until_idle(page)
        assert not _exceptions(page)
        screenshot(page, "draw-uploaded")
