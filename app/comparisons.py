"""What the Face-off and Your symbols pages compute, cached for the whole server by model key: a
model's face-off row, its reconstructions of chosen test digits, and its test digits' reconstruction
errors (the yardstick a user's symbol is measured against)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.faceoff import faceoff_row
from aecore.metrics import reconstruct_images, reconstruction_errors
from app import resources


@st.cache_data(show_spinner=False, max_entries=64)
def model_row(key: str, dataset_name: str) -> dict | None:
    """`aecore.faceoff.faceoff_row` of the model stored under `key`, or None if it is gone."""
    stored = resources.stored_model(key)
    return None if stored is None else faceoff_row(stored, resources.dataset(dataset_name))


@st.cache_data(show_spinner=False, max_entries=64)
def test_reconstructions(key: str, dataset_name: str, indices: tuple[int, ...]) -> np.ndarray | None:
    """The model's reconstructions (N, 28, 28) of the test digits at `indices`, or None if it is gone."""
    stored = resources.stored_model(key)
    if stored is None:
        return None
    return reconstruct_images(stored.model, resources.dataset(dataset_name).x_test[list(indices)])


@st.cache_data(show_spinner=False, max_entries=16)
def test_errors(key: str, dataset_name: str) -> np.ndarray | None:
    """Each test digit's reconstruction error (per-pixel cross-entropy) under the model, or None."""
    stored = resources.stored_model(key)
    return None if stored is None else reconstruction_errors(stored.model, resources.dataset(dataset_name).x_test)
