"""A student's session in Chromium, moving between pages by the sidebar as a person does: what a page
is left with is there when it is visited again, whatever was clicked in between; each page starts at
the model its figure needs; the canvas fits its column and the Draw demo fits a projector's screen;
Home says what an autoencoder is and links the pages; a page whose model is missing trains it.

One dashboard serves every test but the last, over a data home with the lecture's ae, denoising ae
(0.3) and 2-D vae trained.
"""
from __future__ import annotations

import re

import pytest

from app import navigation
from bench.lecture_hall.server import prepare_home
from tests.browser import (
    BROWSER_TEST,
    browser_page,
    dashboard,
    draw_stroke,
    go_to,
    query,
    wait_for_run_end,
    wait_until_idle,
)

pytestmark = BROWSER_TEST

MAIN = '[data-testid="stMain"]'
INPUT_CAPTION = "What the models see"  # under the digit the Draw page gives its models


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(the dashboard's URL, {family: key}) with the lecture's ae, dae 0.3 and vae trained."""
    home = tmp_path_factory.mktemp("session")
    keys = dict(zip(("ae", "dae", "vae"), prepare_home(home, families=("ae", "dae", "vae"))))
    with dashboard(home) as url:
        yield url, keys


def start(page, url: str) -> None:
    page.goto(url)
    wait_until_idle(page)


def choose(page, label: str, option: str) -> None:
    """Pick the option starting with `option` in the selectbox labelled `label`."""
    page.locator(f'{MAIN} input[role="combobox"][aria-label="{label}"]').click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()
    page.wait_for_timeout(300)
    wait_for_run_end(page)


def nudge_slider(page, label: str, steps: int) -> None:
    page.locator(f'{MAIN} [data-testid="stSlider"]', has_text=label).get_by_role("slider").focus()
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(600)
    wait_for_run_end(page)


def stroke_and_wait(page) -> None:
    draw_stroke(page)
    page.get_by_text(INPUT_CAPTION).first.wait_for(timeout=20000)
    wait_for_run_end(page)


def chosen_models(page) -> set[str]:
    return set(page.locator(f'{MAIN} [data-testid="stMultiSelect"] [data-tag]').evaluate_all(
        "tags => tags.map(t => t.getAttribute('aria-label'))"))


def test_a_stroke_keeps_the_settings_of_every_page(lab):
    """#17 defect 1: a stroke reruns one fragment, which once dropped every setting kept for other pages."""
    url, _ = lab
    with browser_page(1400, 1000) as page:
        start(page, url)
        go_to(page, "train")
        choose(page, "Model family", "dae")
        assert query(page)["family"] == "dae"
        go_to(page, "draw")
        nudge_slider(page, "Corruption level", 2)
        draw_settings = {k: query(page)[k] for k in ("dlevel", "models")}
        assert draw_settings["dlevel"] == "0.4" and draw_settings["models"]
        stroke_and_wait(page)

        go_to(page, "train")
        assert query(page)["family"] == "dae", "Train went back to its defaults after a stroke on Draw"
        go_to(page, "draw")
        assert {k: query(page)[k] for k in draw_settings} == draw_settings
        assert page.get_by_text(INPUT_CAPTION).count() == 1, "the drawing is gone from Draw"
        go_to(page, "latent_grid")  # it offers to start the interpolation at the drawing
        toggle = page.locator(f'{MAIN} [data-testid="stCheckbox"]', has_text="Start at my drawing")
        assert toggle.locator("input").is_enabled(), "the drawing is gone from the other pages"


def test_a_click_on_the_latent_map_keeps_the_settings_of_every_page(lab):
    url, _ = lab
    with browser_page(1400, 1000) as page:
        start(page, url)
        go_to(page, "train")
        choose(page, "Model family", "vae")
        go_to(page, "latent_grid")
        chart = page.locator(f'{MAIN} [data-testid="stPlotlyChart"]').first
        chart.wait_for(timeout=30000)
        box = chart.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
        page.get_by_text("decoded z =").first.wait_for(timeout=20000)
        wait_for_run_end(page)
        go_to(page, "train")
        assert query(page)["family"] == "vae", "Train went back to its defaults after a click on the map"


def test_draw_compares_every_trained_lecture_model_and_keeps_the_pick(lab):
    """#17 defect 2: the model list was empty on every revisit."""
    url, _ = lab
    with browser_page(1400, 1000) as page:
        start(page, url)
        go_to(page, "draw")
        assert chosen_models(page) == {"ae 32 (cntk-simple-ae)", "dae 500 masking 0.3 (theano-da-0.3)",
                                       "vae 256 z2 (keras-vae-mlp)"}
        page.locator(f'{MAIN} button[aria-label="Remove vae 256 z2 (keras-vae-mlp)"]').click()
        page.wait_for_timeout(300)
        wait_for_run_end(page)
        go_to(page, "train")
        go_to(page, "draw")
        assert chosen_models(page) == {"ae 32 (cntk-simple-ae)", "dae 500 masking 0.3 (theano-da-0.3)"}


# Where the ink is on the canvas, in CSS pixels from its top left: the canvas draws at its own
# resolution (device pixels), which fabric.js must map the pointer onto.
_INK_BOX = """canvas => {
    const scale = canvas.width / canvas.clientWidth;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let x0 = 1e9, y0 = 1e9, x1 = -1, y1 = -1;
    for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) {
        if (pixels[(y * canvas.width + x) * 4] > 128) {
            x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        }
    }
    return x1 < 0 ? null : [x0 / scale, y0 / scale, x1 / scale, y1 / scale];
}"""


@pytest.mark.parametrize("width, scale", [(1024, 1.0), (1280, 1.5), (1920, 1.0)])
def test_the_canvas_fits_its_column_and_strokes_land_where_drawn(lab, width, scale):
    """#17 defect 3: a 280 px canvas in a 213-248 px column, its right part hidden."""
    url, _ = lab
    with browser_page(width, 900, scale=scale) as page:
        start(page, url)
        go_to(page, "draw")
        canvases = page.locator(f"{MAIN} canvas")
        canvases.last.wait_for(timeout=20000)
        box = canvases.last.bounding_box()
        assert abs(box["width"] - box["height"]) <= 1, f"not square: {box}"
        # the canvas is on screen at its left and right edges (halfway down and at the bottom), not the next
        # column or a part scrolled off; and 8 px below its top, where its hidden toolbar once took the press
        # that starts the top bar of a 7
        corners = [(box["x"] + dx, box["y"] + dy) for dx in (2, box["width"] / 2, box["width"] - 2)
                   for dy in (8, box["height"] / 2, box["height"] - 2)]
        # (the canvas lives in a shadow root: ask that root what is on top at each point)
        hits = canvases.last.evaluate(
            "(canvas, points) => points.map(([x, y]) => canvas.getRootNode().elementFromPoint(x, y)?.tagName)", corners)
        assert hits == ["CANVAS"] * 9, f"the canvas is covered or clipped at {width} px: {list(zip(corners, hits))}"

        draw_stroke(page, start_px=8)
        page.wait_for_timeout(300)  # fabric.js paints a finished stroke on its next frame
        ink = page.locator(f"{MAIN} canvas.dc-canvas.lower-canvas").evaluate(_INK_BOX)  # the finished strokes
        assert ink is not None, "a stroke starting 8 px below the canvas's top left no ink"
        page.get_by_text(INPUT_CAPTION).first.wait_for(timeout=20000)
        ink = page.locator(f"{MAIN} canvas.dc-canvas.lower-canvas").evaluate(_INK_BOX)
        assert ink is not None, "the stroke left no ink on the canvas"
        # draw_stroke goes from (50%, 8 px) down 24 steps of 2.8% of the height, 0.6 px to the right each;
        # the ink reaches half a stroke (at most 9 px) beyond the pointer's path, but not above the canvas
        path = [box["width"] * 0.5, 8, box["width"] * 0.5 + 14.4, 8 + box["height"] * 0.672]
        outside = [path[0] - ink[0], path[1] - ink[1], ink[2] - path[2], ink[3] - path[3]]
        assert all(-2 <= d <= 12 for d in outside), f"ink at {ink}, drawn along {path}"


def test_each_page_starts_at_the_model_its_figure_needs(lab):
    """#17 defect 4: the Latent grid's 2-D VAE became the Embeddings and Filters default."""
    url, keys = lab
    with browser_page(1400, 1000) as page:
        start(page, url)
        go_to(page, "latent_grid")
        assert query(page)["model"] == keys["vae"]
        for path, title, family in (("embeddings", "Embeddings", "ae"), ("filters", "Filters & codes", "dae")):
            # not waiting for the run to end: the Embeddings map takes a while, and its model is named first
            page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
            page.wait_for_function("""([path, title]) => location.pathname.endsWith(path)
                && document.querySelector('[data-testid="stMain"] h1')?.textContent.startsWith(title)
                && new URLSearchParams(location.search).has('model')""", arg=[path, title], timeout=60000)
            assert query(page)["model"] == keys[family], f"{path} opened with another page's model"


def test_the_draw_demo_fits_a_projector_screen(lab):
    """Canvas, the digit the models see and every reconstruction with its code, at 1280x720 with the
    sidebar collapsed and the page not scrolled."""
    url, _ = lab
    with browser_page(1280, 720) as page:
        start(page, url)
        go_to(page, "draw")
        page.locator('[data-testid="stSidebarCollapseButton"] button').click()
        page.wait_for_timeout(500)
        stroke_and_wait(page)
        page.wait_for_timeout(500)
        n_models = len(chosen_models(page))
        boxes = [page.locator(f"{MAIN} canvas").last.bounding_box()] + \
            [img.bounding_box() for img in page.locator(f'{MAIN} [data-testid="stImage"] img').all()]
        seen = [b for b in boxes if b and b["y"] >= 0 and b["y"] + b["height"] <= 720]
        # the canvas, the digit the models see, and per model its reconstruction and its code
        assert len(seen) >= 2 + 2 * n_models, f"{len(seen)} of the demo's pictures fit the screen: {boxes}"
        assert page.evaluate(f"() => document.querySelector('{MAIN}').scrollTop") == 0


def test_home_says_where_to_start_and_what_is_training(lab):
    """#17 defect 9. Last: it starts the lecture set's missing models, then stops them."""
    url, _ = lab
    with browser_page(1400, 1000) as page:
        start(page, url)
        main = page.locator(MAIN).inner_text()
        assert "autoencoder is" in main and "Where to start" in main
        assert not re.search(r"\b[0-9a-f]{20}\b", main), "a store key is shown"
        assert "python -m" not in page.locator('[data-testid="stSidebar"]').inner_text()
        links = page.locator(f'{MAIN} [data-testid="stPageLink"] a')
        assert links.count() == len(navigation.PAGES) - 1  # every page but Home itself
        links.filter(has_text="Latent grid").click()
        page.wait_for_function("() => location.pathname.endsWith('latent_grid')", timeout=30000)
        wait_until_idle(page)
        go_to(page, "")
        prepare = page.get_by_role("button", name=re.compile("^Prepare the lecture set"))
        prepare.click()
        page.get_by_role("button", name=re.compile("^Preparing the lecture set: ")).wait_for(timeout=20000)
        assert page.get_by_role("button", name=re.compile(r"^Prepare the lecture set \(")).count() == 0
        for _ in range(2):  # the running job, then the one that was waiting
            stop = page.get_by_role("button", name="Stop")
            if stop.count():
                stop.first.click()
                page.wait_for_timeout(1500)


@pytest.mark.slow
def test_a_page_whose_model_is_missing_trains_it_at_once_and_shows_it(tmp_path):
    """Alive on first open: on the embedded sample Embeddings trains its autoencoder as the shared job,
    shows its progress, then the map of its codes, with no click (the ae trains in seconds; the Latent
    grid's 500-epoch VAE does the same, in a minute or more)."""
    with dashboard(tmp_path) as url, browser_page(1400, 1000) as page:
        start(page, url)
        go_to(page, "embeddings")
        page.locator(f'{MAIN} [data-testid="stProgress"]').first.wait_for(timeout=20000)
        assert page.get_by_role("button", name=re.compile("^Train ae")).count() == 0
        page.locator(f'{MAIN} [data-testid="stEChartsChart"][aria-label*="test digits"] canvas').first.wait_for(
            timeout=120000)
        wait_for_run_end(page)
        assert page.locator(f'{MAIN} [data-testid="stProgress"]').count() == 0
