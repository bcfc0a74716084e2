"""Maps of a code space in 2-D: PCA, t-SNE and UMAP projections.

`project_codes` fits one projection and returns a `Projection` that can also place new codes (a
drawn digit) on the same map. t-SNE (openTSNE) and UMAP are imported only when first used, because
they pull in numba and compiled extensions that take seconds to load. UMAP's numba kernels abort the
process when two threads run them at once, and the dashboard serves each browser session from its
own thread, so every t-SNE and UMAP fit and transform here runs under one module-level lock.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aecore.errors import ConfigError, DataError
from aecore.import_lock import heavy_imports

METHODS = ("pca", "tsne", "umap")
# UMAP's layout epochs (its default: 500 below 10,000 points): half the fit of 200, same 10-NN accuracy (bench.maps).
UMAP_EPOCHS = 100
MIN_POINTS = 5  # fewer codes than this make no meaningful map (and break UMAP's spectral init)
# t-SNE: half openTSNE's iterations, 2 FFT points per interval, exact neighbours: 6x sooner, same 10-NN (bench.maps).
TSNE_EARLY_ITERS = 125
TSNE_ITERS = 250
TSNE_INTS_IN_INTERVAL = 2  # FFT grid intervals per unit of the embedding: fewer boxes as the map spreads
TSNE_EXACT_UP_TO = 20_000  # exact neighbours (1.3 s for 10,000 codes) up to here, Annoy's approximate above
TSNE_JOBS = 1  # openTSNE's threads spin on two shared cores: 2-10x slower beside a training job (bench.maps notes)
TSNE_CALLBACK_EVERY = 25  # iterations between progress reports; openTSNE computes the KL each time

Progress = Callable[[float, str], Any]  # progress(fraction_done in [0, 1], message)

_NATIVE_LOCK = threading.Lock()  # serialises UMAP (numba) and openTSNE work; see the module docstring


@dataclass(frozen=True, eq=False)
class Projection:
    """A fitted 2-D map of a set of codes.

    Attributes
    ----------
    points : numpy.ndarray
        Read-only float32 array of shape (N, 2), one point per code, in input order.
    method : str
        "pca", "tsne" or "umap".
    params : dict
        The settings used, including the seed (t-SNE perplexity and UMAP neighbours are the values
        actually used, which shrink for very small inputs).
    code_dim : int
        Length of the codes the map was fitted on, and that `transform` accepts.
    """

    points: np.ndarray
    method: str
    params: dict
    code_dim: int
    _place: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def transform(self, new_codes: np.ndarray) -> np.ndarray:
        """Place new codes, shape (M, D) or (D,), on this map; returns float32 (M, 2)."""
        codes = checked_codes(new_codes, min_points=1)
        if codes.shape[1] != self.code_dim:
            raise ValueError(f"expected codes with {self.code_dim} dimensions, got {codes.shape[1]}")
        return np.asarray(self._place(codes), dtype=np.float32).reshape(len(codes), 2)


def project_codes(
    codes: np.ndarray,
    method: str = "pca",
    *,
    seed: int = 0,
    perplexity: float = 30.0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    progress: Progress | None = None,
) -> Projection:
    """Fit a 2-D projection of codes.

    Parameters
    ----------
    codes : numpy.ndarray
        Codes of shape (N, D); not modified.
    method : {"pca", "tsne", "umap"}
    seed : int
        Random seed; the same seed and codes give the same map.
    perplexity : float
        t-SNE perplexity (lowered to (N - 1) / 3 for tiny inputs).
    n_neighbors, min_dist
        UMAP settings (n_neighbors is lowered to N - 1 for tiny inputs).
    progress : callable, optional
        Called as ``progress(fraction_done, message)``: at the start and the end, and every
        TSNE_CALLBACK_EVERY iterations of t-SNE.

    Returns
    -------
    Projection
    """
    params = method_params(method, perplexity, n_neighbors, min_dist)
    data = checked_codes(codes, min_points=2 if method == "pca" else MIN_POINTS)
    report = progress or (lambda fraction, message: None)
    if method == "pca":
        return _fit_pca(data, seed, report)
    if method == "tsne":
        return _fit_tsne(data, seed, params["perplexity"], report)
    return _fit_umap(data, seed, params["n_neighbors"], params["min_dist"], report)


def warm_up_umap(seed: int = 0) -> float:
    """Fit and apply a tiny UMAP so numba compiles (or loads from its disk cache) its kernels.

    Returns
    -------
    float
        Seconds taken; tens of seconds the first time on a machine, about one with a warm cache.
    """
    started = time.perf_counter()
    codes = np.random.default_rng(seed).standard_normal((200, 8)).astype(np.float32)
    projection = project_codes(codes, "umap", seed=seed)
    projection.transform(codes[:5])
    return time.perf_counter() - started


def method_params(method: str, perplexity: float = 30.0, n_neighbors: int = 15, min_dist: float = 0.1) -> dict:
    """The settings that matter to `method`, validated, so unrelated ones never split cache keys.

    Raises ConfigError for an unknown method or a setting out of range.
    """
    if method == "pca":
        return {}
    if method == "tsne":
        if not perplexity > 0:
            raise ConfigError(f"t-SNE perplexity must be positive, got {perplexity}")
        return {"perplexity": float(perplexity)}
    if method == "umap":
        if int(n_neighbors) != n_neighbors or n_neighbors < 2:
            raise ConfigError(f"UMAP n_neighbors must be an integer of at least 2, got {n_neighbors}")
        if not 0.0 <= min_dist <= 1.0:
            raise ConfigError(f"UMAP min_dist must be between 0 and 1, got {min_dist}")
        return {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist)}
    raise ConfigError(f"unknown projection method {method!r} (use one of {', '.join(METHODS)})")


def checked_codes(codes: np.ndarray, min_points: int) -> np.ndarray:
    """A float32 copy of codes as (N, D), so fitting can never write into the caller's array.

    Raises DataError for fewer than `min_points` codes or non-finite values.
    """
    data = np.array(codes, dtype=np.float32, copy=True)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[1] == 0:
        raise ValueError(f"expected codes of shape (N, D), got {data.shape}")
    if len(data) < min_points:
        raise DataError(f"need at least {min_points} codes to project, got {len(data)}")
    if not np.isfinite(data).all():
        raise DataError("codes contain NaN or infinite values (has the model diverged?)")
    return data


def read_only_points(points: np.ndarray) -> np.ndarray:
    """A read-only float32 copy: cached projections are shared, so nobody may edit them in place."""
    points = np.array(points, dtype=np.float32, copy=True)
    points.flags.writeable = False
    return points


@contextmanager
def _native_lock(report: Progress) -> Iterator[None]:
    if not _NATIVE_LOCK.acquire(blocking=False):
        report(0.0, "waiting for another projection to finish")
        _NATIVE_LOCK.acquire()
    try:
        yield
    finally:
        _NATIVE_LOCK.release()


def _fit_pca(data: np.ndarray, seed: int, report: Progress) -> Projection:
    with heavy_imports:
        from sklearn.decomposition import PCA

    report(0.0, "PCA: fitting")
    n_components = min(2, data.shape[1], len(data))
    pca = PCA(n_components=n_components, random_state=seed).fit(data)

    def place(codes: np.ndarray) -> np.ndarray:
        placed = pca.transform(codes)
        # A 1-D code has one principal axis: draw it on a line at y = 0.
        return np.pad(placed, ((0, 0), (0, 2 - n_components)))

    projection = Projection(read_only_points(place(data)), "pca", {"seed": seed}, data.shape[1], place)
    report(1.0, "PCA: done")
    return projection


def _fit_tsne(data: np.ndarray, seed: int, perplexity: float, report: Progress) -> Projection:
    with heavy_imports:
        from openTSNE import TSNE

    perplexity = min(perplexity, (len(data) - 1) / 3)  # openTSNE needs 3 * perplexity neighbours
    tsne = TSNE(
        perplexity=perplexity,
        n_jobs=TSNE_JOBS,
        random_state=seed,
        negative_gradient_method="fft",
        ints_in_interval=TSNE_INTS_IN_INTERVAL,
        neighbors="exact" if len(data) <= TSNE_EXACT_UP_TO else "annoy",
        early_exaggeration_iter=TSNE_EARLY_ITERS,
        n_iter=TSNE_ITERS,
        callbacks=_TsneProgress(report),
        callbacks_every_iters=TSNE_CALLBACK_EVERY,
    )
    with _native_lock(report):
        report(0.0, "t-SNE: finding nearest neighbours")
        embedding = tsne.fit(data)
    # openTSNE's transform re-centres the reference embedding in place (bounding-box centre to the
    # origin) before placing new points; centring now keeps `points` in the frame transform uses.
    embedding -= (embedding.max(axis=0) + embedding.min(axis=0)) / 2
    # The embedding hands its optimiser settings, callbacks included, to every later transform;
    # placing a drawn digit must not report fitting progress again.
    embedding.gradient_descent_params["callbacks"] = None
    # Placing a few points needs few neighbours; openTSNE's defaults (k=25, perplexity 5) would
    # ask for more neighbours than a tiny map has.
    k = min(25, len(data) - 1)

    def place(codes: np.ndarray) -> np.ndarray:
        with _native_lock(lambda fraction, message: None):
            return np.asarray(embedding.transform(codes, k=k, perplexity=min(5.0, k / 3)))

    params = {"seed": seed, "perplexity": perplexity}
    projection = Projection(read_only_points(embedding), "tsne", params, data.shape[1], place)
    report(1.0, "t-SNE: done")
    return projection


class _TsneProgress:
    """openTSNE callback forwarding its two optimisation phases to one progress fraction.

    openTSNE restarts the iteration count for the second (non-exaggerated) phase, so the phase is
    detected from the count going down.
    """

    def __init__(self, report: Progress):
        self.report = report
        self.total_iters = TSNE_EARLY_ITERS + TSNE_ITERS
        self.offset = 0
        self.last_iteration = 0

    def __call__(self, iteration: int, error: float, embedding: np.ndarray) -> bool:
        if iteration < self.last_iteration:
            self.offset = TSNE_EARLY_ITERS
        self.last_iteration = iteration
        done = min(self.offset + iteration, self.total_iters)
        message = f"t-SNE: iteration {done}/{self.total_iters}, KL divergence {error:.3f}"
        self.report(done / self.total_iters, message)
        return False  # never ask openTSNE to stop early


def _import_umap():
    """Import umap with its numba kernels cached on disk under the data home: they compile once per machine.

    NUMBA_CACHE_DIR must be set before umap's first import (a value the user set is kept). umap
    marks only one kernel ``cache=True``; the rest would compile again in every new process (about
    15 s), so caching is switched on for them too.
    """
    if "umap" not in sys.modules:
        from aecore.data.datasets import data_home

        cache_dir = data_home() / "numba"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # unwritable home: numba falls back to caching next to the package, or not at all
        else:
            os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir))
            numba = sys.modules.get("numba")
            if numba is not None and not numba.config.CACHE_DIR:
                numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]  # numba read the environment already
    with heavy_imports:
        import umap

    _cache_umap_kernels()
    return umap


def _cache_umap_kernels() -> None:
    """Turn on numba's disk cache for umap's jitted functions that were declared without it.

    Purely a speed-up, done through numba internals, so any surprise leaves the kernels uncached.
    pynndescent is left alone: it caches what it can itself, and the rest cannot be cached.
    """
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "umap" or name.startswith("umap.")):
            continue
        for kernel in list(vars(module).values()):
            if isinstance(kernel, Dispatcher) and isinstance(getattr(kernel, "_cache", None), NullCache):
                try:
                    kernel.enable_caching()
                except Exception:  # e.g. no writable cache location: stay uncached
                    pass


class _ExactNeighbours:
    """Exact nearest neighbours for UMAP, in place of its own NN-descent search (pynndescent).

    From 4,096 points on, UMAP's pynndescent compiles numba code in every new process; below that,
    UMAP calls its numba metric from Python once per pair of points. Both are many times slower than
    exact search of a few thousand small codes (bench.maps). UMAP's `transform` asks this object for
    the new points' neighbours through `query`.
    """

    _angular_trees = False  # read by UMAP's transform to pick its search tolerance

    def __init__(self, data: np.ndarray):
        with heavy_imports:
            from sklearn.neighbors import NearestNeighbors

        self._search = NearestNeighbors(algorithm="brute").fit(data)

    def knn(self, k: int) -> tuple[np.ndarray, np.ndarray, _ExactNeighbours]:
        """UMAP's `precomputed_knn` for the fitted codes (each point its own first neighbour, as in
        UMAP's search). Given for every size: below 4,096 points UMAP then skips its own all-pairs
        distances (it sets force_approximation_algorithm itself)."""
        dists, indices = self._search.kneighbors(n_neighbors=k - 1)  # the k - 1 nearest others
        n = len(indices)
        indices = np.hstack([np.arange(n)[:, None], indices]).astype(np.int32)
        dists = np.hstack([np.zeros((n, 1)), dists]).astype(np.float32)
        return indices, dists, self

    def query(self, codes: np.ndarray, k: int, epsilon: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        dists, indices = self._search.kneighbors(codes, n_neighbors=k)
        return indices.astype(np.int32), dists.astype(np.float32)


def _fit_umap(data: np.ndarray, seed: int, n_neighbors: int, min_dist: float, report: Progress) -> Projection:
    n_neighbors = min(n_neighbors, len(data) - 1)
    with _native_lock(report):
        report(0.0, "UMAP: fitting (the first run compiles for about half a minute)")
        umap = _import_umap()
        # A fixed random_state makes the map reproducible, which is what the cache key promises;
        # UMAP then runs single-threaded (n_jobs=1 says so instead of warning about it).
        reducer = umap.UMAP(
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            random_state=seed,
            transform_seed=seed,
            n_jobs=1,
            n_epochs=UMAP_EPOCHS,
            precomputed_knn=_ExactNeighbours(data).knn(n_neighbors),
        )
        with warnings.catch_warnings():  # umap warns that an index other than its own cannot transform;
            warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # this one can
            reducer.fit(data)

    def place(codes: np.ndarray) -> np.ndarray:
        with _native_lock(lambda fraction, message: None):
            return reducer.transform(codes)

    params = {"seed": seed, "n_neighbors": n_neighbors, "min_dist": min_dist}
    projection = Projection(read_only_points(reducer.embedding_), "umap", params, data.shape[1], place)
    report(1.0, "UMAP: done")
    return projection
