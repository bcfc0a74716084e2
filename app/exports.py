"""Pictures and files made from a stored model: filter tiles, reconstruction grids, and the bytes
behind the Models page's downloads and the Embeddings page's Embedding Projector zip.

Each is cached by model key (`st.cache_data`), and the downloads are built only when a button is
clicked, so listing models stays fast however large their files are.
"""
from __future__ import annotations

import io
import json
import re

import numpy as np
import streamlit as st
from PIL import Image

from aecore.embedding_projector import projector_files, projector_zip
from aecore.filters import filter_concentration
from aecore.latent import decode_grid
from aecore.metrics import filter_grid, reconstruct_images
from aecore.store import WEIGHTS
from aecore.units import UnitSummary, summarize_units, unit_activations
from app import figures, maps, resources


def stored_metas() -> list[dict]:
    """Every stored model's metadata, newest first (the store re-reads only changed entries)."""
    return resources.registry().store.list()


@st.cache_data(show_spinner=False, max_entries=64)
def filter_picture(key: str, n_filters: int = 100) -> tuple[np.ndarray, int] | None:
    """(the first `n_filters` first-layer filters as one tile image in [0, 1], how many that is), or
    None when the model has no dense first layer (conv_vae)."""
    try:
        weights = maps._model(key).first_layer_weights()
    except NotImplementedError:
        return None
    shown = weights.detach().cpu().numpy()[:n_filters]
    return filter_grid(shown), len(shown)


@st.cache_data(show_spinner=False, max_entries=64)
def filter_concentration_of(key: str, n_filters: int = 100) -> float | None:
    """`aecore.filters.filter_concentration` of the filters `filter_picture` shows (None as there)."""
    try:
        weights = maps._model(key).first_layer_weights()
    except NotImplementedError:
        return None
    return filter_concentration(weights.detach().cpu().numpy()[:n_filters])


@st.cache_data(show_spinner="Running the test digits through the first layer…", max_entries=16)
def unit_summary_of(key: str, dataset_name: str) -> UnitSummary | None:
    """`aecore.units.summarize_units` of the model's first-layer units over the whole test split, or
    None when the model has no dense first layer (conv_vae)."""
    try:
        return summarize_units(unit_activations(maps._model(key), resources.dataset(dataset_name).x_test))
    except NotImplementedError:
        return None


@st.cache_data(show_spinner=False, max_entries=32)
def reconstruction_picture(key: str, dataset_name: str, per_class: int = 2) -> np.ndarray:
    """The first `per_class` test digits of every class (top row) over their reconstructions (bottom row)."""
    data = resources.dataset(dataset_name)
    y = np.asarray(data.y_test)
    idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(len(data.class_names))])
    x = data.x_test[idx]
    rebuilt = reconstruct_images(maps._model(key), x)
    return figures.tile(np.concatenate([x / 255.0, rebuilt]), ncols=len(idx))


@st.cache_data(show_spinner=False, max_entries=32)
def quantile_grid_picture(key: str, n: int = 15) -> np.ndarray | None:
    """The decodes of an n x n grid at normal quantiles of a 2-D code (the Keras VAE example's figure),
    tiled as one picture in [0, 1]; None for a model whose code is not 2-D."""
    model = maps._model(key)
    if model.code_dim != 2:
        return None
    return figures.tile(decode_grid(model, n).reshape(-1, 28, 28), ncols=n, pad=0)


def png_bytes(image: np.ndarray, scale: int = 4) -> bytes:
    """A grey image in [0, 1] as PNG bytes, enlarged so its pixels stay crisp."""
    pixels = (figures.enlarge(image, scale) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def download_stem(label: str, key: str) -> str:
    """A safe file name stem: the label's letters, digits and dots, then the key's first 8 characters."""
    return f"{re.sub(r'[^A-Za-z0-9.]+', '-', label.replace('β', 'beta')).strip('-.')}-{key[:8]}"


def weights_bytes(key: str) -> bytes:
    return (resources.registry().store.path(key) / WEIGHTS).read_bytes()


def meta_json(key: str) -> str:
    meta = resources.registry().store.read_meta(key) or {}
    return json.dumps(meta, indent=1)


@st.cache_data(show_spinner=False, max_entries=8)
def codes_csv(key: str, dataset_name: str) -> str:
    """Codes of the whole test split as CSV: index, label, code_0 … code_{D-1}."""
    data = resources.dataset(dataset_name)
    idx, codes = maps.test_codes(key, dataset_name, len(data.x_test), 0)
    header = ",".join(["index", "label", *(f"code_{i}" for i in range(codes.shape[1]))])
    table = np.column_stack([idx, np.asarray(data.y_test)[idx], codes.astype(np.float64)])
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt=["%d", "%d"] + ["%.6g"] * codes.shape[1], delimiter=",",
               header=header, comments="")
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=8)
def projector_zip_of(key: str, dataset_name: str, n: int, seed: int, stem: str) -> bytes:
    """The Embedding Projector's files (aecore.embedding_projector) for the `n` test digits the
    Embeddings map of (`n`, `seed`) shows, zipped in a folder named `stem`."""
    data = resources.dataset(dataset_name)
    idx, codes = maps.test_codes(key, dataset_name, n, seed)
    files = projector_files(codes, np.asarray(data.y_test)[idx], data.x_test[idx], data.class_names, ids=idx,
                            name=stem)
    return projector_zip(files, folder=stem)


@st.cache_data(show_spinner=False, max_entries=32)
def reconstruction_png(key: str, dataset_name: str) -> bytes:
    return png_bytes(reconstruction_picture(key, dataset_name))


@st.cache_data(show_spinner=False, max_entries=32)
def filters_png(key: str) -> bytes | None:
    found = filter_picture(key, 100)
    return None if found is None else png_bytes(found[0])


def delete_model(key: str) -> bool:
    """Remove a model from the store and from this server's memory; False if it was already gone."""
    registry = resources.registry()
    deleted = registry.store.delete(key)
    resources._load_stored.clear()  # the loaded-model cache; other caches only hold derived numbers
    registry.forget(key)  # a finished job still holds its model; find_model would keep offering it
    return deleted
