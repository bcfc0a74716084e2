"""The Draw & reconstruct page under Streamlit's AppTest: it renders before anything is trained,
turns a canvas stroke into a digit for every chosen model, and its controls change what is shown."""
from __future__ import annotations

import base64
import importlib.util
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from aecore.errors import ImageError
from aecore.runs import get_or_train
from aecore.spec import make_spec
from tests.apptest import open_page

# Not imported here: the canvas registers its component on import, which works only in a running app.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("streamlit_drawable_canvas") is None,
                                reason="streamlit-drawable-canvas is not installed")

PAGE = "draw.py"
DATA = "mnist-sample"


def train_small():
    """A tiny ae and dae on the offline sample, one epoch each (a few seconds)."""
    ae, _ = get_or_train(make_spec("ae", DATA, hidden=(32, 8), epochs=1))
    dae, _ = get_or_train(make_spec("dae", DATA, hidden=(32,), level=0.3, epochs=1))
    return ae.key, dae.key


def stroke(at: AppTest, shift: int = 0, canvas: str = "draw_canvas_0") -> None:
    """Pretend the canvas sent a drawing: a white vertical bar (a "1") on black, as a PNG data URL."""
    pixels = np.zeros((280, 280, 4), np.uint8)
    pixels[..., 3] = 255
    pixels[50:230, 125 + shift:150 + shift, :3] = 255
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    at.session_state[canvas] = {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url},
                                "backgroundFit": None}
    at.run()
    assert not at.exception


def images(at: AppTest) -> dict[str, str]:
    """Caption -> media URL of every image; the URL is a hash of the picture's bytes."""
    return {caption: url for img in at.get("image") for caption, url in zip(img.captions, img.value)}


def code_captions(at: AppTest) -> list[str]:
    """The captions of the code pictures, up to the largest value (which depends on the stroke)."""
    return [caption.split(" · largest")[0] for caption in images(at) if caption.startswith("code · ")]


def test_renders_and_trains_the_lecture_dae_before_any_model(fresh_app):
    at = open_page(PAGE)
    assert at.title[0].value == "Draw & reconstruct"
    assert at.get("bidi_component"), "the canvas component is on the page"
    assert any("Reconstructions appear here" in i.value for i in at.info)
    assert any("Training **dae 500 masking 0.3 (theano-da-0.3)** now" in c.value for c in at.caption)
    assert at.slider(key="draw_level").value == pytest.approx(0.3), "the lecture dae's noise, nothing picked yet"
    stroke(at)  # a drawing with nothing trained still shows the normalised digit, and no error
    assert at.session_state["drawing"].shape == (28, 28)
    assert not at.error


def test_stroke_reconstructs_with_every_chosen_model(fresh_app, ask_before_training):
    vae, _ = get_or_train(make_spec("vae", DATA, hidden=(16,), epochs=1))
    ae, dae = train_small()
    at = open_page(PAGE)
    chosen = at.multiselect(key="draw_models")
    assert chosen.value == [dae], "no lecture model is trained: the newest model"
    assert at.slider(key="draw_level").value == pytest.approx(0.3)  # a dae is compared: its training noise
    assert not code_captions(at), "no codes before anything is drawn"

    chosen.set_value([ae, dae]).run()
    stroke(at)
    digit = at.session_state["drawing"]
    assert digit.dtype == np.float32 and digit.shape == (28, 28)
    assert np.isfinite(digit).all() and digit.max() == pytest.approx(1.0)
    assert code_captions(at) == ["code · 8 units", "code · 32 units"], "one code picture per model"
    assert {m.value for m in at.markdown if m.value.startswith("**")} >= {"**ae 32-8**", "**dae 32 masking 0.3**"}

    assert not any("2-D code" in c.value for c in at.caption)
    chosen.set_value([ae, vae.key]).run()
    assert any(c.value == "A 2-D code keeps only the digit's rough shape." for c in at.caption), "why a 7 turns 9"

    chosen.set_value([ae]).run()
    assert code_captions(at) == ["code · 8 units"]
    assert at.query_params["models"] == ae


def test_corruption_and_test_grid_controls_change_the_pictures(fresh_app, ask_before_training):
    train_small()
    at = open_page(PAGE)
    stroke(at)
    shown = images(at)
    assert "Corrupted: masking (pixels set to 0), 0.3" in shown
    at.slider(key="draw_level").set_value(0.6).run()
    assert at.query_params["dlevel"] == "0.6"
    assert "Corrupted: masking (pixels set to 0), 0.6" in images(at)
    at.slider(key="draw_level").set_value(0.0).run()
    assert not any(c.startswith("Corrupted") for c in images(at)), "no corrupted copy without noise"

    grid = images(at)
    assert {"Test digits", "Masked: 30% of pixels set to 0", "Reconstructions"} <= set(grid)
    at.slider(key="draw_grid_noise").set_value(0.0).run()
    assert at.query_params["gnoise"] == "0"
    after = images(at)
    assert "Masked: 30% of pixels set to 0" not in after
    assert after["Test digits"] == grid["Test digits"]
    assert after["Reconstructions"] != grid["Reconstructions"], "unmasked digits reconstruct differently"


def test_clear_forgets_the_drawing(fresh_app, ask_before_training):
    train_small()
    at = open_page(PAGE)
    stroke(at)
    assert "drawing" in at.session_state
    at.button(key="draw_clear").click().run()
    assert "drawing" not in at.session_state
    assert at.session_state["draw_canvas_n"] == 1
    assert any("Draw a digit" in i.value for i in at.info)


def test_helpers():
    from app import drawing

    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 12:16] = 1.0
    a = drawing.corrupt_digit(digit, "masking", 0.5)
    assert np.array_equal(a, drawing.corrupt_digit(digit, "masking", 0.5)), "seeded: reruns do not flicker"
    assert 0 < a.sum() < digit.sum() and digit.sum() == 72.0, "the input is not modified"
    labels = np.array([3, 1, 0, 1, 0, 3, 2, 2])
    assert list(labels[drawing.grid_indices(labels)]) == [0, 1, 2, 3, 0, 1, 2, 3]
    with pytest.raises(ImageError):
        drawing.upload_digit(b"not an image")


def test_code_bars_picture_scales_to_the_largest_value():
    from app.figures import BAR_NEGATIVE, BAR_POSITIVE, code_bars

    picture = code_bars(np.array([1.0, -0.5, 0.0, 2.0]), width=40, height=41)
    assert picture.shape == (41, 40, 3) and picture.dtype == np.uint8
    def column_height(pic, col, colour):
        return int((pic[:, col] == colour).all(axis=1).sum())

    assert column_height(picture, 35, BAR_POSITIVE) == 19  # the largest value fills the 19 rows above zero
    assert column_height(picture, 5, BAR_POSITIVE) == 10  # half of it, half of them
    assert column_height(picture, 15, BAR_NEGATIVE) == 5  # a negative value goes down, in the other colour
    assert column_height(picture, 25, BAR_POSITIVE) == column_height(picture, 25, BAR_NEGATIVE) == 0

    two = code_bars(np.array([1.0, 1.0]), width=280, height=41, max_bar=36)  # a 2-d VAE code
    bar_columns = np.flatnonzero((two == BAR_POSITIVE).all(axis=2).any(axis=0))
    assert len(bar_columns) <= 72 and abs(bar_columns.mean() - 140) < 2  # narrow bars, centred
    assert code_bars(np.array([np.nan, 0.0])).shape == (96, 280, 3)  # no NaN reaches the picture
