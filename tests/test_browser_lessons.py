"""The Lessons page in Chromium at 1280x720, as a student and a lecturer use it: lessons 1-3 walked
end to end with the → key alone, every step highlighting part of its view, each predict step taking a
guess (its number key, or a click on the view's map) and revealing the answer beside it; a guess
survives a visit to another page; a link opens the step it names, and the presenter link shows the view
alone. One server for the module, on the lessons' models trained for one epoch on 600 digits
($LATENTLAB_LESSON_EPOCHS caps the server's epochs to match)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from app.lessons import LESSONS
from app.lessons.lesson import EPOCHS_ENV
from tests.browser import (
    BROWSER_TEST,
    ROOT,
    browser_page,
    dashboard,
    lesson_heading,
    press,
    query,
    screenshot,
    settle,
    wait_until_idle,
    walk_lesson,
)

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


def open_lessons(page, url: str) -> None:
    """Open Home, then the Lessons page by its sidebar link, as a person does."""
    page.goto(url)
    wait_until_idle(page, 120000)
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Lessons").first.click()
    page.wait_for_selector('[data-testid="stMain"] h1:has-text("Lessons")', timeout=60000)
    settle(page)


def test_lessons_1_to_3_are_walked_with_the_keyboard_and_each_predict_step_reveals_its_answer(lab_url):
    with browser_page(*PROJECTOR) as page:
        open_lessons(page, lab_url)  # a new session opens on lesson 1, step 1
        press(page, "ArrowRight")
        press(page, "ArrowLeft")  # ← goes back
        for slug in WALKED:  # → after a lesson's last step opens the next lesson's first
            walk_lesson(page, LESSONS[SLUGS.index(slug)])
        after = SLUGS.index(WALKED[-1]) + 1
        assert query(page)["lesson"] == (SLUGS[after] if after < len(SLUGS) else WALKED[-1])


def test_a_guess_survives_another_page_and_links_open_their_step_and_the_presenter_view(lab_url):
    lesson = next(les for les in LESSONS if les.slug == "denoising")
    n = next(i for i, s in enumerate(lesson.steps, 1) if s.predict is not None and s.predict.options)
    with browser_page(*PROJECTOR) as page:
        page.goto(f"{lab_url}/lessons?lesson=denoising&step={n}")  # a link to one step of lesson 2
        settle(page)
        assert lesson_heading(page).startswith(f"Step {n} of {len(lesson.steps)}")
        press(page, "1")
        press(page, "ArrowRight")
        answer = page.locator(".st-key-lesson-answer").inner_text()
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Models").first.click()
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Models")', timeout=60000)
        wait_until_idle(page)
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Lessons").first.click()
        page.wait_for_selector('[data-testid="stMain"] h1:has-text("Lessons")', timeout=60000)
        settle(page)
        assert lesson_heading(page).startswith(f"Step {n} of")
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
