"""Honest maps, their export and the lessons built on them, in Chromium at 1280x720 on one server: the
Embeddings page shows trust and 10-NN accuracy beside its map with a PCA of the same codes, and its
Export downloads Embedding Projector files that parse; lessons 4 (Pretraining) and 5 (Reading maps) are
walked with the keyboard alone from a link, each predict step taking a guess by its number key and
revealing the answer beside it. Lesson models train with one epoch ($LATENTLAB_LESSON_EPOCHS)."""
from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from app.lessons import lesson
from app.lessons.lesson import EPOCHS_ENV
from bench.lecture_hall.server import prepare_home
from tests.browser import BROWSER_TEST, browser_page, dashboard, go_to, screenshot, settle, wait_until_idle, walk_lesson

pytestmark = [*BROWSER_TEST, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("maps-lessons")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EPOCHS_ENV, "1")
        prepare_home(home, families=("ae",))  # the Embeddings page's model, ready as in a lecture
        with dashboard(home, warmup=False) as url:
            yield url


def test_embeddings_shows_trust_beside_the_map_and_exports_projector_files(lab_url):
    with browser_page(1280, 720) as page:
        page.goto(lab_url)
        wait_until_idle(page, 120000)
        go_to(page, "embeddings")
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        table = main.locator("table", has_text="trust").first.inner_text()
        assert "UMAP" in table and "PCA" in table and "codes" in table  # the default map is a UMAP
        assert main.get_by_text("only who sits next to whom").count() == 1
        assert page.locator('[data-testid="stEChartsChart"]').count() == 2  # the map and its PCA beside it
        screenshot(page, "embeddings-honest-map")
        with page.expect_download() as download:
            main.get_by_role("button", name="Export (.zip)").click()
        blob = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        files = {Path(name).name: archive.read(name) for name in archive.namelist()}
    vectors = list(csv.reader(io.StringIO(files["vectors.tsv"].decode()), delimiter="\t"))
    metadata = list(csv.reader(io.StringIO(files["metadata.tsv"].decode()), delimiter="\t"))
    n = len(vectors)
    # the lecture ae's 32-d code of every test digit
    assert n == 1000 and len(metadata) == n + 1 and len(vectors[0]) == 32
    side = math.ceil(math.sqrt(n)) * 28
    assert Image.open(io.BytesIO(files["sprite.png"])).size == (side, side)


@pytest.mark.parametrize("slug", ["pretraining", "reading-maps"])
def test_a_lesson_is_walked_with_the_keyboard_and_its_predict_step_reveals_the_answer(lab_url, slug):
    with browser_page(1280, 720) as page:
        page.goto(f"{lab_url}/lessons?lesson={slug}&step=1")  # a lecturer's link to the lesson
        settle(page)
        walk_lesson(page, lesson(slug))
