"""What the Draw & reconstruct, Latent grid and Denoising pages compute: a user's digit from the canvas
or an upload, a seeded corruption of it, each model's reconstruction and code, and cached test-set views.

Everything heavy is cached by (model key, settings), never by a model object, so a stroke on the
canvas costs one small forward pass per model and nothing else.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from aecore.data.user_images import canvas_image_bytes, canvas_max_pixels, load_image_bytes, mnist_normalize
from aecore.denoising import NOISE_SEED, Denoised, corrupt_images, denoise, denoising_error
from aecore.latent import decode_codes
from aecore.metrics import encode_images
from aecore.spec import RunSpec
from app import controls, navigation, resources, settings

GRID_PER_CLASS = 2  # test digits per class in the reconstruction grid


# ---- trained models -------------------------------------------------------------------------------

def model_names(rows: list[dict]) -> dict[str, str]:
    """key -> the model's label, with a short key where two models share a label."""
    return controls.model_names(rows)


def trained_models(dataset: str, accept: Callable[[RunSpec], bool] = lambda s: True) -> list[dict]:
    """Metadata of the stored models trained on `dataset` that pass `accept`, newest first (the
    store keeps parsed metadata per file version, so this is cheap on every stroke)."""
    return controls.trained_models(dataset, accept)


# ---- the user's digit -----------------------------------------------------------------------------

def canvas_digit(result: Any, side: int) -> np.ndarray | None:
    """The canvas (of `side` CSS pixels) as an MNIST-style (28, 28) float32 digit, or None while it is
    blank; raises ImageError for data a browser should never send (checked before decoding)."""
    # Read raw, not through CanvasResult.image_data: that decodes any size with Image.open.
    data_url = None if result is None else getattr(result, "_image_data_url", None)
    if data_url is None:
        return None
    png = canvas_image_bytes(data_url, side)
    return mnist_normalize(load_image_bytes(png, max_pixels=canvas_max_pixels(side)))


@st.cache_data(show_spinner=False, max_entries=8)
def upload_digit(data: bytes) -> np.ndarray | None:
    """An uploaded image file as an MNIST-style digit (None if it has no ink); raises ImageError."""
    return mnist_normalize(bytes(data))


def corrupt_digit(digit: np.ndarray, kind: str, level: float, seed: int = NOISE_SEED) -> np.ndarray:
    """Digits (28, 28) or (N, 28, 28) corrupted like a denoising autoencoder's input, with a fixed seed."""
    return corrupt_images(digit, kind, level, seed)


def respond(key: str, digit: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(reconstruction (28, 28), code (D,)) of the model stored under `key`, or None if it is gone."""
    stored = resources.stored_model(key)
    if stored is None:
        return None
    code = encode_images(stored.model, digit[None])  # (1, D)
    return decode_codes(stored.model, code)[0], code[0]


def drawing_or_test_digit(dataset: str, key: str, param: str) -> tuple[np.ndarray, str]:
    """The user's drawing (kept by the Draw page for every page), else a test digit picked here beside a
    link to the Draw page: ((28, 28) in [0, 1], its name). The test digit is the setting `key` (URL `param`)."""
    digit = st.session_state.get("drawing")
    if digit is not None:
        return digit, "Your drawing"
    data = resources.dataset(dataset)
    st.markdown("No drawing yet, so a test digit stands in:")
    settings.init_from_query(key, param, 0, cast=int, lo=0, hi=len(data.x_test) - 1)
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        index = st.number_input("Test digit #", 0, len(data.x_test) - 1, step=1, key=key, width=170)
        st.page_link(navigation.page("draw.py"), label="Draw a digit", icon=":material/draw:")
    settings.set_query(**{param: index})
    return data.x_test[index] / 255.0, f"Test digit #{index} ({data.class_names[data.y_test[index]]})"


# ---- test-set views -------------------------------------------------------------------------------

def grid_indices(labels: np.ndarray, per_class: int = GRID_PER_CLASS) -> np.ndarray:
    """The first `per_class` test images of each class, ordered 0, 1, ..., 9, 0, 1, ..., 9."""
    classes = np.unique(labels)
    firsts = [np.flatnonzero(labels == c)[:per_class] for c in classes]
    rows = [[f[i] for f in firsts if i < len(f)] for i in range(per_class)]
    return np.array([i for row in rows for i in row], dtype=int)


@st.cache_data(show_spinner=False, max_entries=64)
def test_reconstructions(key: str, dataset: str, noise: float) -> dict[str, np.ndarray] | None:
    """Test digits, their masked copies and the model's reconstructions of those, each (N, 28, 28)."""
    stored = resources.stored_model(key)
    if stored is None:
        return None
    data = resources.dataset(dataset)
    idx = grid_indices(data.y_test)
    clean = data.x_test[idx].astype(np.float32) / 255.0  # a copy: the dataset arrays are shared
    noisy = corrupt_digit(clean, "masking", noise) if noise > 0 else clean
    code = encode_images(stored.model, noisy)
    return {"clean": clean, "noisy": noisy, "recon": decode_codes(stored.model, code)}


@st.cache_data(show_spinner=False, max_entries=64)
def test_denoising(key: str, dataset: str, kind: str, level: float) -> tuple[Denoised, float] | None:
    """(the model's `aecore.denoising.Denoised` of one test digit per class, its mean squared error per
    pixel over the whole test split), each under seeded corruption; None if the model is gone."""
    stored = resources.stored_model(key)
    if stored is None:
        return None
    data = resources.dataset(dataset)
    strip = denoise(stored.model, data.x_test[grid_indices(data.y_test, per_class=1)], kind, level)
    return strip, denoising_error(stored.model, data.x_test, kind, level)
