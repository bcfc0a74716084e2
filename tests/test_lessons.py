"""The Lessons: every registered lesson has the shape issue 21 asks for (4 to 8 steps, at most three
sentences a step, at least one predict step whose right answer is one of its options), and the step
text's sentence counter counts as a reader does."""
from __future__ import annotations

import pytest

from app.lessons import LESSONS, lesson
from app.lessons.lesson import MAX_SENTENCES, sentences


def test_sentences_are_counted_as_a_reader_counts_them():
    assert sentences("One. Two? Three!") == 3
    assert sentences("Corruption 0.3 masks 30% of the pixels, e.g. a stroke") == 1
    assert sentences("") == 0


def test_lessons_have_unique_slugs_and_are_found_by_them():
    slugs = [les.slug for les in LESSONS]
    assert len(slugs) == len(set(slugs))
    assert all(lesson(s).slug == s for s in slugs)
    with pytest.raises(KeyError):
        lesson("no-such-lesson")


@pytest.mark.parametrize("les", LESSONS, ids=lambda les: les.slug)
def test_a_lesson_has_4_to_8_short_steps_and_a_predict_step(les):
    assert 4 <= len(les.steps) <= 8
    assert sentences(les.question) == 1
    for step in les.steps:
        assert step.title and callable(step.view)
        assert 1 <= sentences(step.text) <= MAX_SENTENCES, step.text
    predicts = [s.predict for s in les.steps if s.predict is not None]
    assert predicts, f"{les.slug} has no predict step"
    for p in predicts:
        assert sentences(p.prompt) == 1 and callable(p.answer)
        assert len(p.options) != 1 and len(set(p.options)) == len(p.options) <= 9  # keys 1-9 pick them
