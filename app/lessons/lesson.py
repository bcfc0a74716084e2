"""What a lesson is made of (`Lesson`, `Step`, `Predict`) and what a step's view is handed (`StepContext`):
the lesson's data, the student's guess and whether it is revealed, and helpers that train a model the
step needs, key its widgets and highlight the part of the view to look at. See `app.lessons` for how
a lesson is written."""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import streamlit as st

from aecore.spec import RunSpec
from app import resources, training

ANSWERS = "lesson_answers"  # session_state: "<slug>/<step index>" -> {"guess": ..., "revealed": bool}
MAX_SENTENCES = 3
# At most this many epochs per model a lesson trains (unset: the lesson's own); for a quick run-through on a
# slow machine, and for the browser tests, which walk every lesson on one-epoch models.
EPOCHS_ENV = "LATENTLAB_LESSON_EPOCHS"
HIGHLIGHT = "#d55e00"  # the class palette's vermilion: the part of the view a step is about


@dataclass(frozen=True)
class Predict:
    """A guess the student commits to before the answer is shown beside it.

    With `options`, each option is a button (keys 1, 2, 3… press it too) and `answer(ctx)` returns the
    right option, measured on the live models (None while they train). Without options the view takes
    the guess itself (e.g. a click on a map) through `ctx.record_guess`, and `answer(ctx)` returns the
    sentence shown beside the guess once revealed.
    """

    prompt: str  # the question, one sentence
    answer: Callable[[StepContext], str | None]
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    title: str  # a few words, shown as "Step 2 of 5 · <title>"
    text: str  # what to notice, at most three sentences
    view: Callable[[StepContext], None]  # draws the live view; reads ctx.revealed on a predict step
    predict: Predict | None = None


@dataclass(frozen=True)
class Lesson:
    slug: str  # its name in the URL: ?lesson=<slug>
    title: str  # short: the lesson chooser's label
    question: str  # the question the lesson answers, one sentence
    steps: tuple[Step, ...]
    source: str = ""  # the classic source(s) it follows, e.g. "002, 003" (SEEDS.md)


def sentences(text: str) -> int:
    """How many sentences `text` has (a full stop, ? or ! followed by a space or the end; not inside
    numbers such as 0.3 or abbreviations such as e.g.)."""
    text = re.sub(r"\b(e\.g|i\.e|vs|etc)\.", "", text)
    return len(re.findall(r"[.?!](?=\s|$)", text.strip())) or (1 if text.strip() else 0)


def capped_epochs(spec: RunSpec) -> RunSpec:
    """`spec` with its epochs (and pretraining epochs) at most $LATENTLAB_LESSON_EPOCHS, where that is set."""
    cap = os.environ.get(EPOCHS_ENV, "")
    if not cap.isdigit() or int(cap) < 1:
        return spec
    cap = int(cap)
    spec = replace(spec, train=replace(spec.train, epochs=min(spec.train.epochs, cap)))
    if hasattr(spec.model, "pretrain_epochs"):
        spec = replace(spec, model=replace(spec.model, pretrain_epochs=min(spec.model.pretrain_epochs, cap)))
    return spec


@dataclass
class StepContext:
    """What a step's view (and its predict's answer) gets: the lesson, the step, the dataset and the
    student's guess."""

    lesson: Lesson
    index: int  # 0-based step
    dataset: str  # the session's dataset name (app.dataset_choice)
    presenting: bool = False  # the presenter view: only the view, larger
    _highlights: int = field(default=0, repr=False)  # frames drawn so far in this run: their keys

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.index]

    @property
    def data(self):
        """The dataset (`aecore.data.Dataset`: x_train, y_train, x_test, y_test, class_names)."""
        return resources.dataset(self.dataset)

    @property
    def _answer_key(self) -> str:
        return f"{self.lesson.slug}/{self.index}"

    def _state(self) -> dict:
        return st.session_state.setdefault(ANSWERS, {}).setdefault(self._answer_key, {"guess": None,
                                                                                       "revealed": False})

    @property
    def guess(self) -> Any:
        """The student's committed guess on this step, or None."""
        return self._state()["guess"]

    @property
    def revealed(self) -> bool:
        """Whether this step's answer is shown (always True on a step without a predict)."""
        return self.step.predict is None or self._state()["revealed"]

    def record_guess(self, value: Any, rerun: bool = True) -> None:
        """Commit `value` as the guess (refused once revealed); reruns the page so every part shows it."""
        state = self._state()
        if state["revealed"]:
            return
        state["guess"] = value
        if rerun:
            st.rerun()

    def reveal(self) -> None:
        """Show the answer (only once a guess is in)."""
        state = self._state()
        if state["guess"] is not None:
            state["revealed"] = True

    def key(self, name: str) -> str:
        """A widget key unique to this lesson and step."""
        return f"les-{self.lesson.slug}-{self.index}-{name}"

    def model(self, spec: RunSpec, why: str):
        """The stored model of `spec` (`aecore.store.StoredModel`: .model, .key, .meta), or None while
        it trains on the shared job (its progress is drawn where this is called; the page reruns when
        it is done). `why` is one sentence: what the step needs it for."""
        spec = capped_epochs(spec)
        return training.ensure_trained(spec, why=why, key=self.key(f"train-{resources.model_key(spec)}"))

    @contextlib.contextmanager
    def highlight(self, note: str = "") -> Iterator[Any]:
        """A container with a vermilion frame around the part of the view to look at; `note` (a few
        words) is written on the frame's top edge."""
        self._highlights += 1
        box = st.container(border=True, key=self.key(f"hl-{self._highlights}"))
        with box:
            if note:
                st.html(f"<div class='lesson-note'>{note}</div>")
            yield box


# A thin padding: the framed picture keeps about the size of its unframed neighbours.
STYLE = (f"[class*='st-key-les-'][class*='-hl-'] {{ border: 3px solid {HIGHLIGHT} !important; "
         "border-radius: 0.5rem; padding: 0.35rem 0.5rem !important; gap: 0.25rem; }"
         f".lesson-note {{ color: {HIGHLIGHT}; font-weight: 700; line-height: 1.2; }}")
