"""In a real browser, navigating by the sidebar: the Face-off shows a row per trained family and each
model's reconstructions; Your symbols takes drawn and uploaded examples (refusing a broken file in one
line), shows their percentile, fine-tunes a copy as a job, and keeps the examples across pages. One
server on tiny models of every family (one epoch each on the embedded sample)."""
from __future__ import annotations

import io
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aecore.configs import FAMILIES
from tests.browser import (
    BROWSER_TEST,
    ROOT,
    browser_page,
    dashboard,
    go_to,
    screenshot,
    wait_for_run_end,
    wait_until_idle,
)

pytestmark = [*BROWSER_TEST, pytest.mark.slow]

# One epoch on 600 of the sample's training digits (the store keys them as the sample's, the metadata
# counts 600): every family's row and reconstructions, in a few seconds.
_TRAIN_TINY = """
from dataclasses import replace
from aecore.configs import FAMILIES, config_class
from aecore.data import load_dataset
from aecore.runs import train_and_store
from aecore.spec import make_spec
from aecore.store import ModelStore
data = load_dataset("mnist-sample")
few = replace(data, x_train=data.x_train[:600], y_train=data.y_train[:600])
for family in FAMILIES:
    spec = make_spec(family, "mnist-sample", **config_class(family).small, epochs=1)
    print(family, train_and_store(spec, few, ModelStore()).stored.key)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, family -> key) of a dashboard whose store holds a tiny model of every family."""
    home = tmp_path_factory.mktemp("faceoff")
    run = subprocess.run([sys.executable, "-c", _TRAIN_TINY], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"AECORE_HOME": str(home), "PATH": "/usr/bin:/bin"}, check=True)
    keys = dict(line.split() for line in run.stdout.splitlines())
    with dashboard(home) as url:
        yield url, keys


def _star_png(turn: float) -> bytes:
    """A white five-pointed star outline on black, turned by `turn` radians."""
    image = Image.new("L", (120, 120), 0)
    points = [(60 + 45 * math.sin(turn + k * 4 * math.pi / 5), 62 - 45 * math.cos(turn + k * 4 * math.pi / 5))
              for k in range(6)]
    ImageDraw.Draw(image).line(points, fill=255, width=9)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _percentile(text: str) -> int | None:
    """The number of an ordinal percentile ('82nd'), or None if `text` is not one within 0-100."""
    digits, suffix = text[:-2], text[-2:]
    return int(digits) if digits.isdigit() and suffix in ("st", "nd", "rd", "th") and int(digits) <= 100 else None


def _draw_star(page) -> None:
    """One star in one stroke, in the canvas's lower three quarters (the toolbar covers its top band)."""
    box = page.locator("canvas").last.bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.58, box["width"] * 0.3
    points = [(cx + r * math.sin(k * 4 * math.pi / 5), cy - r * math.cos(k * 4 * math.pi / 5)) for k in range(6)]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=6)
    page.mouse.up()
    page.wait_for_timeout(500)
    wait_until_idle(page)


def test_the_faceoff_has_a_row_per_trained_family_and_their_reconstructions(server):
    url, keys = server
    with browser_page(width=1280, height=720) as page:
        page.goto(url)
        wait_until_idle(page)
        page.locator('[data-testid="stSidebarNav"] a[href$="/faceoff"]').click()
        rows = page.locator('[data-testid="stTable"] tbody tr')
        rows.first.wait_for(timeout=120000)  # the first open measures every model (seconds each)
        wait_for_run_end(page, 120000)
        labels = [rows.nth(i).locator("th, td").first.inner_text() for i in range(rows.count())]
        assert [label.split()[0] for label in labels] == list(FAMILIES), labels
        assert not page.get_by_text("Training the lecture's model").count(), "every family has a model"
        figures = rows.first.locator("td").all_inner_texts()
        assert any(f.endswith("%") for f in figures) and any(f.startswith("0.") for f in figures), figures
        reconstructions = page.locator('[data-testid="stMain"] [data-testid="stImage"]')
        assert reconstructions.count() == 1 + len(FAMILIES), "the originals, then one row per model"
        assert page.get_by_text("Best reconstruction:").count()
        screenshot(page, "faceoff-1280x720")
        assert not page.locator('[data-testid="stException"]').count()


def test_symbols_are_drawn_and_uploaded_measured_fine_tuned_and_kept(server):
    url, keys = server
    with browser_page(width=1280, height=720) as page:
        page.goto(f"{url}/symbols?smodel={keys['ae']}")  # a lecturer's link to the page on the tiny ae
        wait_until_idle(page)
        add = page.get_by_role("button", name="Add this symbol")
        assert add.is_disabled(), "nothing drawn yet"
        for _ in range(2):
            _draw_star(page)
            add.click()
            page.wait_for_timeout(500)
            wait_until_idle(page)
        assert page.get_by_text("Your examples: 2 of 10–30").count()
        assert page.locator('[data-testid="stMetricLabel"]').all_inner_texts() == \
            ["error percentile", "distance percentile"]
        assert all(_percentile(v) is not None for v in page.locator('[data-testid="stMetricValue"]').all_inner_texts())

        page.get_by_text("…or upload pictures of it").click()
        files = [{"name": f"star{i}.png", "mimeType": "image/png", "buffer": _star_png(0.1 * i)} for i in range(8)]
        files.append({"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG not really"})
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files)
        page.get_by_role("button", name="Add 8 uploaded").wait_for(timeout=30000)
        assert page.get_by_text("broken.png: could not use that image").count(), "one line for the bad file"
        page.get_by_role("button", name="Add 8 uploaded").click()
        page.wait_for_timeout(500)
        wait_until_idle(page)
        assert page.get_by_text("Your examples: 10 of 10–30").count()

        page.get_by_role("button", name="Fine-tune").click()
        page.get_by_text("after fine-tuning with your symbols").wait_for(timeout=90000)
        wait_until_idle(page)
        values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        # before, then after: the reconstruction error's percentile and the distance from the digits'
        assert len(values) == 4 and all(_percentile(v) is not None for v in values), values
        deltas = page.locator('[data-testid="stMetricDelta"]').all_inner_texts()
        assert len(deltas) == 2 and all(d.endswith("percentile points") for d in deltas), deltas
        assert page.locator('[data-testid="stEChartsChart"]').count() == 2, "the map before and after"
        screenshot(page, "symbols-1280x720")

        go_to(page, "faceoff")  # away and back by the sidebar: the examples stay
        go_to(page, "symbols")
        assert page.get_by_text("Your examples: 10 of 10–30").count()
        assert page.get_by_text("after fine-tuning with your symbols").count(), "the finished fine-tune is found"
        assert not page.locator('[data-testid="stException"]').count()


def test_a_star_png_has_ink():
    assert np.asarray(Image.open(io.BytesIO(_star_png(0.0)))).max() == 255
