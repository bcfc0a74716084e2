"""Codes of a stored model and what the pages compute from them: 2-D maps, neighbours, linear probes.

Everything here is keyed by the model's store key (never by a model object) and cached for the whole
server: test-split codes with `st.cache_data`, the training split's codes as one read-only array
per model, and fitted maps in one process-wide `ProjectionCache`, so a map that one session fitted
shows at once in every other. t-SNE and UMAP maps are fitted in the map worker process
(`aecore.maps.worker`), so a fit never holds this server's GIL and its imports never load here.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from aecore.errors import StoreError
from aecore.maps import Projection, ProjectionCache, project_codes
from aecore.maps.honesty import MapHonesty, map_honesty
from aecore.maps.worker import WORKER_METHODS, shared_worker
from aecore.metrics import PROBE_MAX_TRAIN, encode_images, linear_probe_accuracy
from app import resources

METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}


def _model(key: str):
    stored = resources.stored_model(key)
    if stored is None:  # deleted from the cache since the page was drawn
        raise StoreError("that model is no longer in the cache; pick or train another")
    return stored.model


def test_subset(n_test: int, n: int, seed: int) -> np.ndarray:
    """Indices of `n` test digits: the whole split in order when `n` covers it, else a seeded sample."""
    if n >= n_test:
        return np.arange(n_test)
    return np.sort(np.random.default_rng(seed).choice(n_test, size=n, replace=False))


@st.cache_data(show_spinner="Encoding the test digits…", max_entries=16)
def test_codes(key: str, dataset_name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(test indices (n,), their codes (n, D)) for the model stored under `key`."""
    data = resources.dataset(dataset_name)
    idx = test_subset(len(data.x_test), n, seed)
    return idx, encode_images(_model(key), data.x_test[idx])


@st.cache_resource(show_spinner="Encoding the training digits…", max_entries=3)
def train_codes(key: str, dataset_name: str) -> np.ndarray:
    """Codes of the whole training split, read-only (shared by every session, too big to copy per rerun)."""
    codes = encode_images(_model(key), resources.dataset(dataset_name).x_train)
    codes.flags.writeable = False
    return codes


@st.cache_resource(show_spinner=False)
def projections() -> ProjectionCache:
    """The one process-wide store of fitted maps."""
    return ProjectionCache(maxsize=32)


def is_cached(key: str, n_points: int, method: str, params: dict, seed: int) -> bool:
    """Whether `projection` would find this map already fitted (arguments as there)."""
    cache = projections()
    return cache.key(key, method, params, n_points, seed) in cache


def projection(key: str, codes: np.ndarray, method: str, params: dict, seed: int,
               progress: Callable[[float, str], object]) -> tuple[Projection, bool]:
    """(the map of `codes`, whether it was fitted now). `progress` is called only when fitting.

    `key` must name the code set: the model key with the number of points and the seed, which are
    part of the cache key too.
    """
    fitted = []

    def fit() -> Projection:
        fitted.append(True)
        if method in WORKER_METHODS:
            return shared_worker().fit(codes, method, seed=seed, progress=progress, **params)
        return project_codes(codes, method, seed=seed, progress=progress, **params)

    cache = projections()
    found = cache.get_or_compute(cache.key(key, method, params, len(codes), seed), fit)
    return found, bool(fitted)


@st.cache_data(show_spinner=False, max_entries=64)
def honesty(map_id: str, _codes: np.ndarray, _points: np.ndarray, _labels: np.ndarray) -> MapHonesty:
    """`aecore.maps.honesty.map_honesty` of a map, remembered by its id (the model, method, settings,
    number of points and seed, which decide the codes, points and labels)."""
    return map_honesty(_codes, _points, _labels)


def selected_indices(event, chart: dict) -> list[int]:
    """Point indices of a box or lasso selection on a `figures.map_chart` map, sorted, without duplicates.

    ECharts reports series-local data indices; each class series of the map carries its points'
    indices as their third value. Stars (a drawing) and anything malformed are left out.
    """
    groups = ((event or {}).get("selection") or {}).get("selected") or []
    classes = {s["id"]: s["data"] for s in chart.get("series", []) if str(s.get("id", "")).startswith("class-")}
    out = set()
    for group in groups:
        data = classes.get(group.get("series_id"), [])
        for j in group.get("data_indices") or []:
            if isinstance(j, int) and not isinstance(j, bool) and 0 <= j < len(data):
                out.add(int(data[j][2]))
    return sorted(out)


def nearest_training(key: str, dataset_name: str, code: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the training split, Euclidean distances) of the `k` codes nearest to `code`."""
    codes = train_codes(key, dataset_name)
    dist = np.linalg.norm(codes - np.asarray(code, dtype=np.float32).reshape(1, -1), axis=1)
    nearest = np.argsort(dist)[:k]
    return nearest, dist[nearest]


@st.cache_data(show_spinner=False, max_entries=64)
def code_probe_accuracy(key: str, dataset_name: str) -> float:
    """Test accuracy of a logistic regression on the model's codes (fitted on at most
    PROBE_MAX_TRAIN training digits, so only those are encoded)."""
    data = resources.dataset(dataset_name)
    n_train = len(data.x_train)
    keep = np.sort(np.random.default_rng(0).choice(n_train, min(n_train, PROBE_MAX_TRAIN), replace=False))
    train = encode_images(_model(key), data.x_train[keep])
    _, test = test_codes(key, dataset_name, len(data.x_test), 0)
    return linear_probe_accuracy(train, data.y_train[keep], test, data.y_test)


@st.cache_data(show_spinner=False, max_entries=4)
def pixel_probe_accuracy(dataset_name: str) -> float:
    """The same probe on raw pixels (standardised inside the probe, so uint8 is fine)."""
    data = resources.dataset(dataset_name)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731  (views: no float copy of the whole split)
    return linear_probe_accuracy(flat(data.x_train), data.y_train, flat(data.x_test), data.y_test)
