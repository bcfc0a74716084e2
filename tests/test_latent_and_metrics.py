"""Code-space walks (aecore.latent), metrics and filter pictures (aecore.metrics), on tiny stand-in models."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from aecore.errors import ConfigError
from aecore.latent import (
    decode_codes,
    decode_grid,
    decode_plane,
    interpolate,
    latent_grid_points,
    plane_points,
    posterior,
    sample_posterior,
    sample_prior,
)
from aecore.metrics import (
    cosine_similarity_matrix,
    encode_images,
    filter_grid,
    linear_probe_accuracy,
    reconstruct_images,
    reconstruction_metrics,
    vae_metrics,
)
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


def test_a_plane_is_decoded_over_its_box_corners_included_in_display_order():
    points = plane_points(3, (-1.0, 2.0, 0.0, 4.0))
    assert points.tolist() == [[-1, 4], [0.5, 4], [2, 4], [-1, 2], [0.5, 2], [2, 2], [-1, 0], [0.5, 0], [2, 0]]
    model = TinyAE()
    plane = decode_plane(model, 3, (-1.0, 2.0, 0.0, 4.0))
    assert plane.shape == (3, 3, 28, 28)
    np.testing.assert_allclose(plane[2, 0], decode_codes(model, np.array([[-1.0, 0.0]], np.float32))[0], atol=1e-6)
    for bad in [(1.0, 1.0, 0.0, 1.0), (0.0, float("nan"), 0.0, 1.0)]:
        with pytest.raises(ConfigError):
            plane_points(4, bad)
    with pytest.raises(ConfigError):
        decode_plane(TinyAE(TinyConfig(code_dim=3)), 4, (0.0, 1.0, 0.0, 1.0))


def test_posterior_samples_spread_by_sigma_around_mu(images):
    model = TinyVAE()
    with torch.no_grad():
        model.logvar_head.weight.zero_()
        model.logvar_head.bias.copy_(torch.tensor([2 * math.log(0.5), 2 * math.log(0.01)]))  # σ = 0.5 and 0.01
    mu, sigma = posterior(model, images[:3])
    np.testing.assert_allclose(mu, encode_images(model, images[:3]), atol=1e-5)
    np.testing.assert_allclose(sigma, [[0.5, 0.01]] * 3, rtol=1e-5)
    codes, decoded = sample_posterior(model, images[0] / 255.0, 400, seed=1)
    assert decoded.shape == (400, 28, 28)
    np.testing.assert_allclose(decoded[:2], decode_codes(model, codes[:2]), atol=1e-6)
    np.testing.assert_allclose(codes.std(axis=0), [0.5, 0.01], rtol=0.15)
    np.testing.assert_allclose(codes.mean(axis=0), mu[0], atol=0.08)
    assert np.array_equal(codes, sample_posterior(model, images[0] / 255.0, 400, seed=1)[0])
    with pytest.raises(ConfigError):
        posterior(TinyAE(), images[:1])


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
