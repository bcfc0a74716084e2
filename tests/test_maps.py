"""2-D maps of codes (aecore.maps): PCA, t-SNE and UMAP fits, placing new codes, the settings that
matter to each method, and the cache of fitted maps shared by threads."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import aecore.maps.projection as projection_module
from aecore.errors import ConfigError, DataError
from aecore.maps import ProjectionCache, method_params, project_codes

# ---------------------------------------------------------------- projections


@pytest.fixture(scope="module")
def clusters() -> tuple[np.ndarray, np.ndarray]:
    """300 codes in three well-separated 16-D clusters."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 100)
    centres = rng.normal(0, 6, (3, 16))
    return (centres[labels] + rng.normal(size=(300, 16))).astype(np.float32), labels


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy: do clusters stay together on the map?"""
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :k]
    votes = np.array([np.bincount(labels[row], minlength=3).argmax() for row in neighbours])
    return float((votes == labels).mean())


def nearest_cluster(points: np.ndarray, labels: np.ndarray, new_point: np.ndarray) -> int:
    centroids = np.stack([points[labels == c].mean(axis=0) for c in range(3)])
    return int(np.linalg.norm(centroids - new_point, axis=1).argmin())


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_keeps_clusters_and_places_new_codes(clusters, method):
    codes, labels = clusters
    original = codes.copy()
    calls = []
    projection = project_codes(codes, method, seed=0, progress=lambda f, m: calls.append((f, m)))

    np.testing.assert_array_equal(codes, original)  # input untouched
    assert projection.points.shape == (300, 2) and projection.points.dtype == np.float32
    assert projection.method == method and projection.params["seed"] == 0
    assert knn_accuracy(projection.points, labels) > 0.9
    placed = projection.transform(codes[[7, 150, 299]])
    assert placed.shape == (3, 2) and np.isfinite(placed).all()
    for row, point in zip([7, 150, 299], placed):
        assert nearest_cluster(projection.points, labels, point) == labels[row]
    assert projection.transform(codes[0]).shape == (1, 2)  # one code, e.g. a drawn digit

    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    if method == "tsne":
        assert len(calls) > 10  # forwarded from openTSNE's callbacks
    with pytest.raises(ValueError):
        projection.points[0, 0] = 1.0  # shared through the cache, so read-only


def test_pca_of_low_dimensional_codes():
    two_d = np.random.default_rng(0).normal(size=(20, 2))
    assert project_codes(two_d, "pca").points.shape == (20, 2)
    one_d = project_codes(two_d[:, :1], "pca")
    assert one_d.points.shape == (20, 2) and (one_d.points[:, 1] == 0).all()


def test_projection_refuses_bad_input():
    with pytest.raises(ConfigError):
        project_codes(np.zeros((10, 3)), "isomap")
    with pytest.raises(DataError):
        project_codes(np.full((10, 3), np.nan), "pca")
    with pytest.raises(DataError):
        project_codes(np.zeros((3, 3)), "tsne")
    with pytest.raises(ConfigError):
        project_codes(np.zeros((10, 3)), "tsne", perplexity=0)


def test_cache_returns_the_same_projection_until_evicted(clusters):
    codes, _ = clusters
    cache = ProjectionCache(maxsize=2)
    first = cache.project("model-a", codes, "pca", seed=0)
    assert cache.project("model-a", codes, "pca", seed=0) is first
    assert cache.project("model-a", codes, "pca", seed=0, perplexity=5) is first  # irrelevant setting
    assert cache.project("model-a", codes, "pca", seed=1) is not first
    assert cache.project("model-b", codes, "pca", seed=0) is not first
    assert len(cache) == 2
    assert cache.project("model-a", codes, "pca", seed=0) is not first  # evicted as least recent

    computed = []
    key = ProjectionCache.key("m", "tsne", {"b": 2, "a": 1}, 300, 0)
    assert key == ProjectionCache.key("m", "tsne", {"a": 1, "b": 2}, 300, 0)
    cache.get_or_compute(key, lambda: computed.append(1) or first)
    cache.get_or_compute(key, lambda: computed.append(1) or first)
    assert computed == [1]


def test_cache_fits_a_map_asked_for_by_two_threads_at_once_only_once(clusters):
    codes, _ = clusters
    cache = ProjectionCache()
    key = ProjectionCache.key("m", "pca", {}, len(codes), 0)
    calls, started = [], threading.Event()

    def slow_fit():
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return project_codes(codes, "pca")

    results = []
    first = threading.Thread(target=lambda: results.append(cache.get_or_compute(key, slow_fit)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: results.append(cache.get_or_compute(key, slow_fit)))
    second.start()
    first.join(10), second.join(10)
    assert calls == [1] and len(results) == 2 and results[0] is results[1]


def test_cache_computes_again_when_the_running_fit_failed(clusters):
    codes, _ = clusters
    cache = ProjectionCache()
    key = ProjectionCache.key("m", "pca", {}, len(codes), 0)
    started, results = threading.Event(), []

    def failing_fit():
        started.set()
        time.sleep(0.2)
        raise DataError("codes went away")

    def waiter():
        started.wait(5)
        results.append(cache.get_or_compute(key, lambda: project_codes(codes, "pca")))

    other = threading.Thread(target=waiter)
    other.start()
    with pytest.raises(DataError):
        cache.get_or_compute(key, failing_fit)
    other.join(10)
    assert len(results) == 1 and results[0].points.shape == (len(codes), 2)
    assert cache.get_or_compute(key, failing_fit) is results[0]  # stored: the failing fit is not called


def test_umap_from_two_threads_at_once(clusters, pytestconfig, monkeypatch):
    """UMAP's numba kernels abort the process if run concurrently; the module lock must prevent it.

    The only UMAP test. Compiling the kernels takes about half a minute, so they are cached in
    pytest's own cache folder (the per-test AECORE_HOME would be cold every run, and ~/.cache is
    off limits to tests); this only takes effect if nothing imported umap earlier in the session.
    """
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(pytestconfig.cache.mkdir("numba")))
    codes, labels = clusters
    results, errors, messages = {}, [], []

    def run(name: str, seed: int) -> None:
        try:
            results[name] = project_codes(codes, "umap", seed=seed, progress=lambda f, m: messages.append(m))
        except Exception as exc:  # surfaced below; an abort would kill pytest instead
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name, seed)) for name, seed in [("a", 0), ("b", 1)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    for projection in results.values():
        assert projection.points.shape == (300, 2)
        assert knn_accuracy(projection.points, labels) > 0.9
    placed = results["a"].transform(codes[150])
    assert placed.shape == (1, 2)
    assert nearest_cluster(results["a"].points, labels, placed[0]) == 1


def test_umap_of_few_codes_uses_exact_neighbours_not_all_pairs(clusters, monkeypatch):
    """Below 4,096 points UMAP would compute every pairwise distance, one Python call per pair
    (3.4 s for 2,000 codes, against 0.4 s with the exact neighbours); the exact neighbours given to it
    must take that path's place, for the fit and for placing new codes."""
    umap = projection_module._import_umap()  # with numba's disk cache set up, as the dashboard has it

    def all_pairs(*args, **kwargs):
        raise AssertionError("UMAP computed all pairwise distances")

    monkeypatch.setattr(umap.umap_, "pairwise_distances", all_pairs)
    codes, labels = clusters
    projection = project_codes(codes, "umap", seed=0)
    assert knn_accuracy(projection.points, labels) > 0.9
    placed = projection.transform(codes[[7, 150, 299]])
    for row, point in zip([7, 150, 299], placed):
        assert nearest_cluster(projection.points, labels, point) == labels[row]


def test_a_fit_waits_while_another_holds_the_native_lock():
    codes = np.random.default_rng(0).normal(size=(20, 4))
    messages = []
    first_message = threading.Event()

    def progress(fraction: float, message: str) -> None:
        messages.append(message)
        first_message.set()

    with projection_module._NATIVE_LOCK:  # as if another session were fitting
        thread = threading.Thread(target=project_codes, args=(codes, "tsne"), kwargs={"progress": progress})
        thread.start()
        assert first_message.wait(timeout=30)
        time.sleep(0.1)
        assert messages == ["waiting for another projection to finish"]
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert messages[-1] == "t-SNE: done"


def test_method_params_keep_only_the_settings_of_the_method_and_check_them():
    """The one rule for which settings split a map's cache entry (the Embeddings page uses it too)."""
    assert method_params("pca", perplexity=5, n_neighbors=3, min_dist=0.5) == {}
    assert method_params("tsne", perplexity=5, n_neighbors=3, min_dist=0.5) == {"perplexity": 5.0}
    assert method_params("umap", perplexity=5, n_neighbors=3, min_dist=0.5) == {"n_neighbors": 3, "min_dist": 0.5}
    for method, bad in [("tsne", {"perplexity": 0}), ("umap", {"n_neighbors": 1}), ("umap", {"min_dist": 2.0}),
                        ("isomap", {})]:
        with pytest.raises(ConfigError):
            method_params(method, **bad)
