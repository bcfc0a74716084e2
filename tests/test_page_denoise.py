"""The Denoising page under Streamlit's AppTest: with nothing trained it offers the lecture's plain and
denoising pair; with two models it shows the corrupted digit, both reconstructions, the clean target and
both error maps with their numbers, on a test digit until there is a drawing, and its noise controls
change the corrupted pictures and the errors while the same settings give the same noise."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.runs import get_or_train
from aecore.spec import make_spec
from app import words
from tests.apptest import open_page

PAGE = "denoise.py"

pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


def captions(at: AppTest) -> list[tuple[str, str]]:
    """(caption, media URL) of every image, in page order; the URL names the picture's bytes."""
    return [(caption, url) for img in at.get("image") for caption, url in zip(img.captions, img.value)]


def said(at: AppTest) -> list[str]:
    return [c for c, _ in captions(at)]


def text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_without_models_the_lecture_pair_is_offered():
    at = open_page(PAGE)
    labels = [b.label for b in at.button]
    assert any(label.startswith("Train dae 500 masking 0 (theano-da) now") for label in labels)
    assert any(label.startswith("Train dae 500 masking 0.3 (theano-da-0.3) now") for label in labels)
    assert not at.get("image")


def test_two_models_side_by_side_on_a_test_digit_then_on_the_drawing():
    plain, _ = get_or_train(make_spec("ae", "mnist-sample", hidden=(32,), epochs=1))
    denoiser, _ = get_or_train(make_spec("dae", "mnist-sample", hidden=(32,), level=0.3, epochs=1))
    at = open_page(PAGE, {"plain": plain.key, "denoiser": denoiser.key})
    shown = captions(at)
    first = said(at)
    assert first[:2] == ["clean target: test digit #0 (0)", "corrupted: 30% of the pixels set to 0"]
    assert first[2] == "rebuilt" and first[3].startswith("error map: 0.")
    assert first[4] == "rebuilt" and first[5].startswith("error map: 0.")
    assert "**Plain** — trained on clean digits" in text(at)
    assert "**Denoising** — trained on masking 0.3" in text(at)
    assert text(at).count("All 1,000 test digits: **0.") == 2
    assert "No drawing yet" in text(at)
    assert "Over the test digits the denoising model's error is" in text(at)
    assert first[6:8] == ["Clean targets", "Corrupted inputs: 30% of the pixels set to 0"]
    assert first[8] == "Plain model: rebuilt" and first[9].startswith("Plain model: error maps (mean squared error")
    assert first[10] == "Denoising model: rebuilt" and first[11].startswith("Denoising model: error maps")
    before = text(at)

    at.run()  # the same settings: the same noise
    assert captions(at) == shown

    at.slider(key="dn_level").set_value(0.6).run()
    assert not at.exception
    moved = captions(at)
    assert moved[1][0] == "corrupted: 60% of the pixels set to 0" and moved[1][1] != shown[1][1]
    assert moved[3][0] != shown[3][0] and moved[5][0] != shown[5][0], "the errors follow the level"
    assert text(at) != before and at.query_params["nlevel"] in (["0.6"], "0.6")

    at.selectbox(key="dn_kind").set_value("gaussian").run()
    assert said(at)[1] == "corrupted: Gaussian noise of σ = 0.6 added"

    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1.0  # a "1"
    at.session_state["drawing"] = digit  # as the Draw page leaves it
    at.run()
    assert said(at)[0] == "clean target: your drawing" and "No drawing yet" not in text(at)


def test_the_verdict_says_which_model_rebuilt_the_test_digits_better_and_why():
    assert words.denoising_verdict(0.0235, 0.0113, "masking", "masking") == \
        "Over the test digits the denoising model's error is 2.1× lower than the plain model's."
    assert words.denoising_verdict(0.0277, 0.0614, "Gaussian noise", "masking").endswith(
        "2.2× higher than the plain model's: it was trained on masking, not on Gaussian noise.")
    assert words.denoising_verdict(0.0032, 0.0101, None, "masking").endswith(
        ": on clean digits the plain model, trained on them, copies better.")
    assert words.denoising_verdict(0.02, 0.03, "masking", "masking").endswith("plain model's.")
