"""The Lessons page in Chromium at 1280x720, as a student and a lecturer use it: lessons 1-3 walked
end to end with the → key alone, every step highlighting part of its view, each predict step taking a
guess (its number key, or a click on the view's map) and revealing the answer beside it; a guess
survives a visit to another page; a link opens the step it names, and the presenter link shows the view
alone. One server for the module, on the lessons' models trained for one epoch on 600 digits
($LATENTLAB_LESSON_EPOCHS caps the server's epochs to match)."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from app.lessons import LESSONS
from app.lessons.lesson import EPOCHS_ENV
from tests.browser import BROWSER_TEST, ROOT, browser_page, dashboard, screenshot, wait_until_idle

pytestmark = [*BROWSER_TEST, pytest.mark.slow]

PROJECTOR = (1280, 720)
SLUGS = [les.slug for les in LESSONS]
WALKED = ["compression", "denoising", "vae-plane"]  # lessons 4 and 5: tests/test_browser_maps_lessons.py


# The models lessons 1-3 ask for (their epochs capped at 1, as the server's are), each trained for one
# epoch on 600 of the sample's training digits: the store keys them as the sample's, so the pages find them.
_TRAIN_LESSON_MODELS = """
from dataclasses import replace
from aecore.data import load_dataset
from aecore.runs import train_and_store
from aecore.spec import lecture_spec, make_spec
from aecore.store import ModelStore
from app.lessons import compression, denoising
from app.lessons.lesson import capped_epochs
data = load_dataset("mnist-sample")
few = replace(data, x_train=data.x_train[:600], y_train=data.y_train[:600])
specs = [compression.ae_spec("mnist-sample"), *denoising.pair_specs("mnist-sample"),
         denoising.mistyped_spec("mnist-sample"), lecture_spec("vae", "mnist-sample"),
         make_spec("ae", "mnist-sample", hidden=(256, 2))]
for spec in specs:
    train_and_store(capped_epochs(spec), few, ModelStore())
"""


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("lessons")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EPOCHS_ENV, "1")
        patch.setenv("AECORE_HOME", str(home))
        subprocess.run([sys.executable, "-c", _TRAIN_LESSON_MODELS], cwd=ROOT, check=True, timeout=300,
                       capture_output=True)
        with dashboard(home, warmup=False) as url:
            yield url


def settle(page, timeout_s: float = 240) -> None:
    """Wait until the page has run and no model it needs is still training (the page reruns when one ends)."""
    deadline = time.monotonic() + timeout_s
    while True:
        wait_until_idle(page, 120000)
        if page.locator('[data-testid="stProgress"]').count() == 0:
            page.wait_for_timeout(300)
            if page.locator('[data-testid="stProgress"]').count() == 0:
                break
        assert time.monotonic() < deadline, "a lesson model did not finish training"
        page.wait_for_timeout(1000)
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
    assert not errors, errors


def open_lessons(page, url: str) -> None:
    """Open Home, then the Lessons page by its sidebar link, as a person does."""
    page.goto(url)
    wait_until_idle(page, 120000)
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Lessons").first.click()
    page.wait_for_selector('[data-testid="stMain"] h1:has-text("Lessons")', timeout=60000)
    settle(page)


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def heading(page) -> str:
    return page.locator('[data-testid="stMain"] h4').first.inner_text()


def press(page, key: str) -> None:
    page.keyboard.press(key)
    page.wait_for_timeout(400)
    settle(page)


def guess_on_map(page) -> None:
    """Click the middle of the view's chart: a guess taken by the view itself."""
    chart = page.locator('.st-key-lesson-view [data-testid="stPlotlyChart"]').first
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_timeout(600)
    settle(page)


def walk(page, lesson) -> None:
    """Walk `lesson` from its first step with → alone; on each predict step guess (option 2 by its key,
    or a click on the map), see that nothing is revealed yet, reveal with →, and read the answer."""
    for n, step in enumerate(lesson.steps, 1):
        assert heading(page).startswith(f"Step {n} of {len(lesson.steps)}"), heading(page)
        assert query(page)["lesson"] == lesson.slug and query(page)["step"] == str(n)
        # a picture, a chart or a measured figure in the view (a chart's script loads after the run)
        page.wait_for_selector(".st-key-lesson-view :is(img, canvas, svg.main-svg, [data-testid='stMetric'])",
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
            assert "Your guess" in answer and (not step.predict.options or guess in answer), answer
            if step.predict.options:
                assert re.search("Answer: (" + "|".join(map(re.escape, step.predict.options)) + ")", answer)
            screenshot(page, f"lesson-{lesson.slug}-{n}-revealed")
            assert heading(page).startswith(f"Step {n} of")  # still on the step
        press(page, "ArrowRight")


def test_lessons_1_to_3_are_walked_with_the_keyboard_and_each_predict_step_reveals_its_answer(lab_url):
    with browser_page(*PROJECTOR) as page:
        open_lessons(page, lab_url)  # a new session opens on lesson 1, step 1
        press(page, "ArrowRight")
        press(page, "ArrowLeft")  # ← goes back
        for slug in WALKED:  # → after a lesson's last step opens the next lesson's first
            walk(page, LESSONS[SLUGS.index(slug)])
        after = SLUGS.index(WALKED[-1]) + 1
        assert query(page)["lesson"] == (SLUGS[after] if after < len(SLUGS) else WALKED[-1])


def test_a_guess_survives_another_page_and_links_open_their_step_and_the_presenter_view(lab_url):
    lesson = next(les for les in LESSONS if les.slug == "denoising")
    n = next(i for i, s in enumerate(lesson.steps, 1) if s.predict is not None and s.predict.options)
    with browser_page(*PROJECTOR) as page:
        page.goto(f"{lab_url}/lessons?lesson=denoising&step={n}")  # a link to one step of lesson 2
        settle(page)
        assert heading(page).startswith(f"Step {n} of {len(lesson.steps)}")
        press(page, "1")
        press(page, "ArrowRight")
        answer = page.locator(".st-key-lesson-answer").inner_text()
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Models").first.click()
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Models")', timeout=60000)
        wait_until_idle(page)
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Lessons").first.click()
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Lessons")', timeout=60000)
        settle(page)
        assert heading(page).startswith(f"Step {n} of")
        assert page.locator(".st-key-lesson-answer").inner_text() == answer  # the same guess, still revealed
        assert query(page)["lesson"] == "denoising" and query(page)["step"] == str(n)

        page.goto(f"{lab_url}/lessons?lesson=denoising&step={n}&present=1")
        settle(page)
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        assert page.locator('[data-testid="stMain"] h4').count() == 0  # no step text, the view alone
        title = page.locator('[data-testid="stMain"] h1').first.inner_text()
        assert title == f"{lesson.title}: {lesson.steps[n - 1].title}"
        assert page.locator(".st-key-lesson-view img").count() > 0
        screenshot(page, "lesson-presenter")
        press(page, "ArrowRight")  # the keys work there too (no guess in this new session: → moves on)
        assert page.locator('[data-testid="stMain"] h1').first.inner_text().endswith(lesson.steps[n].title)
