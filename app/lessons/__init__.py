"""Guided lessons: each a short tour of steps in which a student reads at most three sentences beside
a live view, and on a predict step commits to a guess before the answer is revealed beside it.

Writing a lesson (one module per lesson in `app/lessons/`, registered by one line below)::

    from app.lessons.lesson import Lesson, Predict, Step, StepContext

    def codes_view(ctx: StepContext) -> None:        # draws the step's live view with Streamlit calls
        stored = ctx.model(lecture_spec("ae", ctx.dataset), why="This step encodes digits.")
        if stored is None:                            # training now, for everyone; progress is shown
            return                                    # and the page reruns when the model is stored
        with ctx.highlight("the 32 numbers"):         # vermilion frame: the part to look at
            st.image(...)
        if ctx.revealed:                              # predict steps: draw the answer only once revealed
            ...

    def better(ctx: StepContext) -> str | None:       # the right option, measured on the live models
        ...                                           # (None while they train)

    LESSON = Lesson(slug="compression", title="Compression", question="One sentence.", source="002, 003",
                    steps=(Step("Title", "At most three sentences.", codes_view),
                           Step("Guess", "Text.", reveal_view,
                                predict=Predict("Which rebuilds better?", better, options=("AE", "PCA"))),
                           ...))                      # 4 to 8 steps, at least one with a predict

`StepContext` (app.lessons.lesson) gives a view: `ctx.dataset` (name) and `ctx.data` (x_train, y_train,
x_test, y_test, class_names), `ctx.model(spec, why)` (the stored model or None while it trains, via
`app.training.ensure_trained`; epochs capped by $LATENTLAB_LESSON_EPOCHS where set, as the browser tests
do: so get every model through `ctx.model`), `ctx.key(name)` (widget keys unique to the step), `ctx.highlight(note)`,
`ctx.guess`, `ctx.revealed` (True on steps without a predict), `ctx.record_guess(value)` (for a
guess the view takes itself, e.g. a click on a map; a Predict without options), and `ctx.presenting`
(the presenter view shows the view alone). Guesses live in plain session state, so they survive
reruns, fragment runs and visits to other pages. A predict with options draws one button per
option (keys 1, 2, 3…); the → key (Next) reveals a guessed predict step first, then moves on.

The page (`pages/lessons.py`) keeps the lesson and the 1-based step in the URL (`?lesson=<slug>&step=3`);
`&present=1` is the presenter view. `tests/test_lessons.py` checks every registered lesson's shape
(4-8 steps, at most three sentences a step, a predict step) and walks it in Chromium.
"""
from __future__ import annotations

from app.lessons import compression, denoising, pretraining, reading_maps, vae_plane
from app.lessons.lesson import Lesson, Predict, Step, StepContext  # noqa: F401 (the lessons' interface)

LESSONS: list[Lesson] = [compression.LESSON, denoising.LESSON, vae_plane.LESSON, pretraining.LESSON,
                         reading_maps.LESSON]


def lesson(slug: str) -> Lesson:
    """The registered lesson called `slug` (KeyError if none)."""
    return {les.slug: les for les in LESSONS}[slug]
