"""The Denoising page under Streamlit's AppTest: with nothing trained it offers the lecture's plain and
denoising pair; with two models it shows the corrupted digit, both reconstructions, the clean target and
both error maps with their numbers, on a test digit until there is a drawing, and its noise controls
change the corrupted pictures and the errors while the same settings give the same noise."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.runs import get_or_train
from aecore.spec import make_spec

ENTRY = Path(__file__).resolve().parents[1] / "app" / "Home.py"

pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


def open_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page("../pages/denoise.py").run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> dict[str, str]:
    """Caption -> media URL of every image; the URL names the picture's bytes."""
    return {caption: url for img in at.get("image") for caption, url in zip(img.captions, img.value)}


def text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_without_models_the_lecture_pair_is_offered():
    at = open_page()
    labels = [b.label for b in at.button]
    assert any(label.startswith("Train dae 500 masking 0 (theano-da) now") for label in labels)
    assert any(label.startswith("Train dae 500 masking 0.3 (theano-da-0.3) now") for label in labels)
    assert not at.get("image")


def test_two_models_side_by_side_on_a_test_digit_then_on_the_drawing():
    plain, _ = get_or_train(make_spec("ae", "mnist-sample", hidden=(32,), epochs=1))
    denoiser, _ = get_or_train(make_spec("dae", "mnist-sample", hidden=(32,), level=0.3, epochs=1))
    at = open_page({"plain": plain.key, "denoiser": denoiser.key})
    shown = captions(at)
    assert "Clean target: test digit #0" in shown
    assert "Corrupted input: 30% of the pixels set to 0" in shown
    assert "Plain (trained on clean digits): rebuilt" in shown
    assert "Denoising (trained on masking 0.3): rebuilt" in shown
    assert sum(c.startswith(("Plain: error 0.", "Denoising: error 0.")) for c in shown) == 2
    assert "No drawing yet" in text(at)
    bands = [c for c in shown if c.startswith(("Clean targets", "Corrupted inputs", "Plain autoencoder",
                                                "Denoising autoencoder"))]
    assert len(bands) == 6
    before = text(at)
    assert "over all 1,000 test digits, 30% of the pixels set to 0" in before

    at.run()  # the same settings: the same noise
    assert captions(at) == shown

    at.slider(key="dn_level").set_value(0.6).run()
    assert not at.exception
    moved = captions(at)
    assert "Corrupted input: 60% of the pixels set to 0" in moved
    errors = [c for c in moved if ": error " in c]
    assert errors and not set(errors) & set(shown), "the errors follow the level"
    assert text(at) != before and at.query_params["nlevel"] in (["0.6"], "0.6")

    at.selectbox(key="dn_kind").set_value("gaussian").run()
    assert "Corrupted input: Gaussian noise of σ = 0.6 added" in captions(at)

    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1.0  # a "1"
    at.session_state["drawing"] = digit  # as the Draw page leaves it
    at.run()
    assert "Clean target: your drawing" in captions(at) and "No drawing yet" not in text(at)
