"""End to end in a real browser: the dashboard started with the README's command, driven by Playwright
in Debian's Chromium. Screenshots of every page are saved under artifacts/screenshots/.

Skipped, with the reason, where Chromium or Playwright is missing; `.ci/run` installs both.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.browser import ROOT, browser_page, dashboard, draw_stroke, missing_browser_reason, screenshot, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.skipif(missing_browser_reason() is not None,
                                                      reason=missing_browser_reason() or "")]

PAGES = ["", "train", "draw", "latent_grid", "embeddings", "filters", "stacked", "models"]


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


def test_every_page_opens_with_models(lab_home):
    with dashboard(lab_home) as url, browser_page() as page:
        for path in PAGES:
            page.goto(f"{url}/{path}")
            wait_until_idle(page)
            page.wait_for_timeout(1500)  # let charts and images paint before the screenshot
            assert not _exceptions(page), (path, _exceptions(page))
            screenshot(page, f"trained-{path or 'home'}")


def test_drawing_a_stroke_shows_a_reconstruction(lab_home):
    with dashboard(lab_home) as url, browser_page() as page:
        page.goto(f"{url}/draw")
        wait_until_idle(page)
        page.wait_for_selector("canvas", timeout=30000)
        images_before = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count()
        draw_stroke(page)
        released = time.perf_counter()
        # the blank canvas shows no digit images up top; a stroke adds the input and the reconstructions
        page.wait_for_function(
            f"""() => document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img').length
                      >= {images_before + 2}""", timeout=20000)
        latency = time.perf_counter() - released
        wait_until_idle(page)
        images_after = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count()
        assert images_after > images_before
        assert not _exceptions(page)
        screenshot(page, "draw-after-stroke")
        print(f"stroke released -> reconstruction visible: {latency * 1000:.0f} ms")


def test_loss_chart_updates_while_training(tmp_path):
    with dashboard(tmp_path) as url, browser_page() as page:
        # a run long enough to watch: a wide denoising autoencoder for a few epochs
        page.goto(f"{url}/train?family=dae&hidden=1000&epochs=6&batch=64")
        wait_until_idle(page)
        page.get_by_role("button", name="Train", exact=False).first.click()
        page.wait_for_selector('[data-testid="stProgress"]', timeout=30000)

        def points() -> int:
            return page.evaluate("""() => { const p = document.querySelector('.js-plotly-plot');
                                            return p && p.data ? p.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) : 0; }""")

        page.wait_for_function("() => document.querySelector('.js-plotly-plot') !== null", timeout=90000)
        first = points()
        page.wait_for_function(f"() => {{ const p = document.querySelector('.js-plotly-plot'); "
                               f"return p && p.data && p.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) > {first}; }}",
                               timeout=30000)
        second = points()
        screenshot(page, "train-live")
        assert second > first, f"the loss chart did not grow while training ({first} -> {second} points)"
        page.get_by_role("button", name="Stop").click()
        page.wait_for_timeout(1500)
        assert not _exceptions(page)
