"""Code-space walks, metrics, filter pictures and 2-D projections, on tiny stand-in models."""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

import aecore.analysis.projection as projection_module
from aecore.analysis import (
    ProjectionCache,
    cosine_similarity_matrix,
    decode_codes,
    decode_grid,
    encode_images,
    filter_grid,
    interpolate,
    latent_grid_points,
    linear_probe_accuracy,
    project_codes,
    reconstruct_images,
    reconstruction_metrics,
    sample_prior,
    vae_metrics,
)
from aecore.errors import ConfigError, DataError
from aecore.models.base import Autoencoder

# ---------------------------------------------------------------- stand-in models


@dataclass(frozen=True)
class TinyConfig:
    code_dim: int = 2  # the real families are tested elsewhere; these only need the interface


class TinyAE(Autoencoder):
    """One linear layer each way."""

    family = "tiny"

    def __init__(self, cfg: TinyConfig = TinyConfig()):
        super().__init__(cfg)
        torch.manual_seed(0)
        self.encoder = nn.Linear(784, cfg.code_dim)
        self.decoder = nn.Linear(cfg.code_dim, 784)

    @property
    def code_dim(self) -> int:
        return self.cfg.code_dim

    def encode(self, x):
        return self.encoder(x)

    def decode(self, code):
        return torch.sigmoid(self.decoder(code))

    def first_layer_weights(self):
        return self.encoder.weight


class TinyVAE(TinyAE):
    """TinyAE plus a log-variance head; `encode` gives the posterior mean."""

    family = "tiny_vae"
    is_variational = True

    def __init__(self, cfg: TinyConfig = TinyConfig()):
        super().__init__(cfg)
        self.logvar_head = nn.Linear(784, cfg.code_dim)

    def encode_dist(self, x):
        return self.encoder(x), self.logvar_head(x)


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)


# ---------------------------------------------------------------- latent grid and decoding


def test_grid_points_follow_the_normal_quantiles_in_display_order():
    points = latent_grid_points(5)
    assert points.shape == (25, 2) and points.dtype == np.float32
    xs = points[:5, 0]
    np.testing.assert_allclose(xs, [-1.6448536, -0.5977601, 0.0, 0.5977601, 1.6448536], atol=1e-5)
    np.testing.assert_allclose(points[::5, 1], xs[::-1], atol=1e-6)  # y decreases down the rows
    assert (points[:5, 1] == points[0, 1]).all()  # a display row shares its y
    assert np.diff(xs).min() > 0


def test_grid_points_on_a_linear_range():
    points = latent_grid_points(4, limits=(-3, 3))
    np.testing.assert_allclose(points[:4, 0], [-3, -1, 1, 3], atol=1e-6)
    assert tuple(points[0]) == (-3.0, 3.0) and tuple(points[-1]) == (3.0, -3.0)


@pytest.mark.parametrize(
    "kwargs", [{"n": 0}, {"n": 3, "span": 0.4}, {"n": 3, "span": 1.0}, {"n": 3, "limits": (2, 1)}]
)
def test_bad_grid_settings_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        latent_grid_points(**kwargs)


def test_decode_grid_matches_decoding_the_grid_points():
    model = TinyAE()
    grid = decode_grid(model, 6)
    assert grid.shape == (6, 6, 28, 28) and grid.dtype == np.float32
    assert grid.min() >= 0 and grid.max() <= 1
    flat = decode_codes(model, latent_grid_points(6))
    np.testing.assert_allclose(grid[2, 4], flat[2 * 6 + 4])


def test_decode_grid_varies_chosen_dimensions_around_a_base_code():
    model = TinyAE(TinyConfig(code_dim=3))
    base = np.array([0.0, 0.7, 0.0], dtype=np.float32)
    grid = decode_grid(model, 3, dims=(0, 2), base_code=base)
    codes = np.array([[-1.6448536, 0.7, 1.6448536]], dtype=np.float32)  # top-left: x low, y high
    np.testing.assert_allclose(grid[0, 0], decode_codes(model, codes)[0], atol=1e-5)
    with pytest.raises(ConfigError):
        decode_grid(model, 3, dims=(1, 1))


def test_decoding_restores_training_mode_and_keeps_no_graph():
    model = TinyAE().train()
    images = decode_codes(model, torch.zeros(3, 2))
    assert model.training
    assert isinstance(images, np.ndarray) and images.shape == (3, 28, 28)


def test_linear_interpolation_ends_and_midpoint():
    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    path = interpolate(z0, z1, 5)
    assert path.shape == (5, 2)
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(path[2], [0.5, 1.0])


def test_slerp_turns_along_the_circle_and_interpolates_norms():
    z0, z1 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    path = interpolate(z0, z1, 9, method="slerp")
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linspace(1, 2, 9), rtol=1e-6)
    angles = np.arctan2(path[:, 1], path[:, 0])
    np.testing.assert_allclose(angles, np.linspace(0, math.pi / 2, 9), atol=1e-6)  # constant angular speed


def test_slerp_of_opposite_or_zero_codes_stays_finite():
    z = np.array([1.0, -2.0])
    assert np.isfinite(interpolate(z, -z, 7, method="slerp")).all()
    assert np.isfinite(interpolate(np.zeros(2), z, 7, method="slerp")).all()
    with pytest.raises(ConfigError):
        interpolate(z, z, 5, method="cubic")


def test_prior_samples_are_seeded_images():
    model = TinyVAE()
    first = sample_prior(model, 4, seed=3)
    assert first.shape == (4, 28, 28) and first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(first, sample_prior(model, 4, seed=3))
    assert not np.array_equal(first, sample_prior(model, 4, seed=4))
    with pytest.raises(ConfigError):
        sample_prior(TinyAE(), 4, seed=0)


# ---------------------------------------------------------------- metrics


def test_encoding_accepts_uint8_and_float_images(images):
    model = TinyAE()
    from_uint8 = encode_images(model, images, batch_size=16)
    from_float = encode_images(model, images.reshape(50, 784) / 255.0)
    assert from_uint8.shape == (50, 2) and from_uint8.dtype == np.float32
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-5)
    assert reconstruct_images(model, images).shape == (50, 28, 28)


def test_reconstruction_metrics_of_a_coin_flip_decoder(images):
    model = TinyAE()
    with torch.no_grad():  # decoder outputs sigmoid(0) = 0.5 for every pixel
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()
    metrics = reconstruction_metrics(model, images, batch_size=7)
    x = images / 255.0
    assert metrics["bce"] == pytest.approx(math.log(2), rel=1e-5)
    assert metrics["bce_sum"] == pytest.approx(784 * math.log(2), rel=1e-5)
    assert metrics["mse"] == pytest.approx(((x - 0.5) ** 2).mean(), rel=1e-5)


def test_vae_metrics_count_active_units_and_split_the_kl(images):
    model = TinyVAE()
    with torch.no_grad():
        model.encoder.weight[1].zero_()  # dimension 1 ignores its input: an inactive unit
        model.encoder.bias[1] = 0.0
        model.logvar_head.weight.zero_()  # unit variance, so KL per dimension is mu^2 / 2
        model.logvar_head.bias.zero_()
    metrics = vae_metrics(model, images, batch_size=16)
    mu = encode_images(model, images)

    assert metrics["active_units"] == 1
    assert metrics["kl_per_dim"][1] == pytest.approx(0.0, abs=1e-9)
    assert metrics["kl_per_dim"][0] == pytest.approx(float((mu[:, 0] ** 2).mean() / 2), rel=1e-4)
    assert metrics["kl"] == pytest.approx(sum(metrics["kl_per_dim"]))
    assert metrics["elbo_loss"] == pytest.approx(metrics["recon"] + metrics["kl"])
    assert metrics["recon"] > 0
    with pytest.raises(ConfigError):
        vae_metrics(TinyAE(), images)


def test_linear_probe_separates_separable_codes_and_not_random_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    centres = rng.normal(0, 5, (4, 8))
    feats = centres[labels] + rng.normal(0, 1, (2000, 8))
    assert linear_probe_accuracy(feats[:1500], labels[:1500], feats[1500:], labels[1500:]) > 0.9

    noise = rng.normal(size=(2000, 8))
    random_labels = rng.integers(0, 4, 2000)
    chance = linear_probe_accuracy(noise[:1500], random_labels[:1500], noise[1500:], random_labels[1500:])
    assert 0.1 < chance < 0.4


def test_linear_probe_subsamples_large_training_sets():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 20_000)
    feats = labels[:, None] * 4.0 + rng.normal(size=(20_000, 4))
    assert linear_probe_accuracy(feats, labels, feats[:500], labels[:500], max_train=300) > 0.9


def test_cosine_similarity_matrix():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [-2.0, 0.0]])
    sims = cosine_similarity_matrix(a)
    assert sims.shape == (4, 4)
    np.testing.assert_allclose(np.diag(sims)[[0, 1, 3]], 1.0)
    np.testing.assert_allclose(sims, sims.T)
    assert sims[0, 1] == pytest.approx(1 / math.sqrt(2))
    assert sims[0, 3] == pytest.approx(-1.0)
    assert (sims[2] == 0).all()  # a zero code is similar to nothing, and never NaN
    assert cosine_similarity_matrix(a, a[:2]).shape == (4, 2)


def test_filter_grid_tiles_each_filter_scaled_to_its_own_range():
    weights = torch.randn(10, 784)
    weights[3] = 0.25  # a constant filter
    picture = filter_grid(weights, pad=1)
    assert picture.shape == (3 * 29 - 1, 4 * 29 - 1)  # ceil(sqrt(10)) = 4 columns, 3 rows
    assert picture.min() >= 0 and picture.max() <= 1
    first = picture[:28, :28]
    assert first.min() == 0 and first.max() == 1
    np.testing.assert_allclose(picture[:28, 3 * 29:3 * 29 + 28], 0.5)
    assert (picture[28] == 0).all()  # padding row between tile rows
    assert filter_grid(TinyAE().first_layer_weights(), ncols=1, pad=2).shape == (2 * 30 - 2, 28)


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
