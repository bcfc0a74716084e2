"""Walking the code space: grids of codes, interpolation between codes, and decoding them.

The grid follows Kingma & Welling's 2-D "learned manifold" figure: codes are spaced evenly in
probability under a standard normal prior (through its inverse CDF), so a VAE's grid covers the
region its prior actually puts mass on. A plain linear range is available for models without a prior.
"""
from __future__ import annotations

from typing import cast

import numpy as np
import torch

from aecore.errors import ConfigError
from aecore.inference import evaluating, flat_images, map_batches, model_device, to_unit_float
from aecore.models.base import IMAGE_SIDE, Autoencoder
from aecore.models.vae import VariationalAutoencoder


def latent_grid_points(n: int, span: float = 0.95, *, limits: tuple[float, float] | None = None) -> np.ndarray:
    """Points of an n x n grid in a 2-D code space, in display order.

    Parameters
    ----------
    n : int
        Grid side.
    span : float
        Upper quantile of the standard normal reached by the grid; each axis runs through the
        quantiles ``linspace(1 - span, span, n)`` (0.05 ... 0.95 by default).
    limits : (float, float), optional
        Use ``linspace(low, high, n)`` on each axis instead of normal quantiles.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (n * n, 2) holding (x, y) pairs, row by row as the grid is shown:
        point ``i * n + j`` is in display row i (top to bottom) and column j (left to right), so x
        increases to the right and y increases upward.
    """
    axis = _grid_axis(n, span, limits)
    xs, ys = np.meshgrid(axis, axis[::-1])  # reversed: the top display row holds the largest y
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def decode_grid(
    model: Autoencoder,
    n: int,
    span: float = 0.95,
    *,
    limits: tuple[float, float] | None = None,
    dims: tuple[int, int] = (0, 1),
    base_code: np.ndarray | None = None,
) -> np.ndarray:
    """Decode an n x n grid of codes into images, in display order.

    Parameters
    ----------
    model : Autoencoder
    n, span, limits
        As in `latent_grid_points`.
    dims : (int, int)
        The two code dimensions the grid varies (x, y); the others stay at `base_code`.
    base_code : numpy.ndarray, optional
        Code of shape (D,) that the grid is laid through; zeros (the prior mean) by default.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (n, n, 28, 28); ``[i, j]`` is display row i (top to bottom, y
        decreasing) and column j (left to right, x increasing).
    """
    code_dim = model.code_dim
    x_dim, y_dim = dims
    if not (0 <= x_dim < code_dim and 0 <= y_dim < code_dim and x_dim != y_dim):
        raise ConfigError(f"grid dimensions {dims} are not two distinct dimensions of a {code_dim}-D code")
    base = np.zeros(code_dim, dtype=np.float32) if base_code is None else np.asarray(base_code, dtype=np.float32)
    if base.shape != (code_dim,):
        raise ValueError(f"base_code must have shape ({code_dim},), got {base.shape}")
    points = latent_grid_points(n, span, limits=limits)
    codes = np.tile(base, (len(points), 1))  # (n*n, D)
    codes[:, x_dim] = points[:, 0]
    codes[:, y_dim] = points[:, 1]
    return decode_codes(model, codes).reshape(n, n, IMAGE_SIDE, IMAGE_SIDE)


def decode_codes(model: Autoencoder, codes: np.ndarray | torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Decode codes of shape (N, D) into float32 images of shape (N, 28, 28) with values in [0, 1]."""
    if codes.ndim != 2 or codes.shape[1] != model.code_dim:
        raise ValueError(f"expected codes of shape (N, {model.code_dim}), got {tuple(codes.shape)}")
    with evaluating(model):
        flat = map_batches(model.decode, codes, model_device(model), batch_size)
    return flat.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def plane_points(n: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Points of an n x n grid spanning the box (x0, x1, y0, y1) of a 2-D code plane, corners included.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (n * n, 2) in display order, as in `latent_grid_points`: point
        ``i * n + j`` is in row i (top, y1, to bottom, y0) and column j (left, x0, to right, x1).
    """
    x0, x1, y0, y1 = (float(v) for v in box)
    if int(n) != n or n < 2:
        raise ConfigError(f"a plane's grid needs a side of at least 2, got {n}")
    if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
        raise ConfigError(f"a plane's box must be finite with x0 < x1 and y0 < y1, got {box}")
    xs, ys = np.meshgrid(np.linspace(x0, x1, int(n)), np.linspace(y1, y0, int(n)))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def decode_plane(model: Autoencoder, n: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Decode the n x n `plane_points` of a model's 2-D code plane: float32 (n, n, 28, 28), ``[i, j]``
    in display row i (top to bottom) and column j (left to right)."""
    if model.code_dim != 2:
        raise ConfigError(f"decoding a plane needs a 2-D code, this model's has {model.code_dim} dimensions")
    return decode_codes(model, plane_points(n, box)).reshape(int(n), int(n), IMAGE_SIDE, IMAGE_SIDE)


def posterior(model: Autoencoder, images: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """A VAE's q(z|x) for each image: (μ, σ), each float32 of shape (N, D)."""
    if not model.is_variational:
        raise ConfigError("q(z|x) needs a variational model")
    rows = flat_images(images)
    with evaluating(model), torch.no_grad():
        x = to_unit_float(rows, model_device(model))
        mu, logvar = cast(VariationalAutoencoder, model).encode_dist(x)  # (N, D), (N, D)
    return mu.float().cpu().numpy(), torch.exp(0.5 * logvar).float().cpu().numpy()


def sample_posterior(model: Autoencoder, image: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n` codes z = μ + σ·ε from a VAE's q(z|x) for one image and decode them.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The codes, float32 (n, D), and their decodes, float32 (n, 28, 28) in [0, 1].
    """
    if n < 1:
        raise ConfigError(f"number of samples must be at least 1, got {n}")
    mu, sigma = posterior(model, np.asarray(image)[None])
    # numpy randomness, as in sample_prior: the same seed gives the same digits on any device.
    codes = (mu + sigma * np.random.default_rng(seed).standard_normal((n, model.code_dim))).astype(np.float32)
    return codes, decode_codes(model, codes)


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int, method: str = "linear") -> np.ndarray:
    """Codes on the way from `z0` to `z1`, both ends included.

    Parameters
    ----------
    z0, z1 : numpy.ndarray
        Codes of shape (D,).
    steps : int
        Number of codes returned, at least 2.
    method : {"linear", "slerp"}
        "linear" is the straight line. "slerp" turns the direction along the great circle and
        changes the length linearly, so intermediate codes keep a typical norm instead of cutting
        through the low-density centre of a Gaussian prior (White, "Sampling Generative Networks").

    Returns
    -------
    numpy.ndarray
        float32 array of shape (steps, D); row 0 is `z0` and the last row is `z1`.
    """
    start = np.asarray(z0, dtype=np.float64).ravel()
    end = np.asarray(z1, dtype=np.float64).ravel()
    if start.shape != end.shape:
        raise ValueError(f"codes differ in shape: {start.shape} and {end.shape}")
    if steps < 2:
        raise ConfigError(f"interpolation needs at least 2 steps, got {steps}")
    t = np.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
    if method == "linear":
        path = (1 - t) * start + t * end
    elif method == "slerp":
        path = _slerp(start, end, t)
    else:
        raise ConfigError(f"unknown interpolation method {method!r} (use 'linear' or 'slerp')")
    path[0], path[-1] = start, end  # exact ends, free of rounding
    return path.astype(np.float32)


def sample_prior(model: Autoencoder, n: int, seed: int = 0) -> np.ndarray:
    """Decode `n` codes drawn from a VAE's standard normal prior, as (n, 28, 28) float32 images."""
    if not model.is_variational:
        raise ConfigError("sampling from the prior needs a variational model")
    if n < 1:
        raise ConfigError(f"number of samples must be at least 1, got {n}")
    # numpy rather than torch randomness: the same seed gives the same digits on any device.
    codes = np.random.default_rng(seed).standard_normal((n, model.code_dim)).astype(np.float32)
    return decode_codes(model, codes)


def _grid_axis(n: int, span: float, limits: tuple[float, float] | None) -> np.ndarray:
    if int(n) != n or n < 1:
        raise ConfigError(f"grid side must be a positive integer, got {n}")
    n = int(n)
    if limits is not None:
        low, high = (float(v) for v in limits)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ConfigError(f"grid limits must be finite with low < high, got {limits}")
        return np.linspace(low, high, n) if n > 1 else np.array([(low + high) / 2])
    if not 0.5 < span < 1.0:
        raise ConfigError(f"grid span must be a quantile between 0.5 and 1, got {span}")
    quantiles = np.linspace(1.0 - span, span, n) if n > 1 else np.array([0.5])
    # torch's inverse normal CDF equals scipy.stats.norm.ppf and spares importing scipy.special.
    return torch.special.ndtri(torch.from_numpy(quantiles)).numpy()


def _slerp(start: np.ndarray, end: np.ndarray, t: np.ndarray) -> np.ndarray:
    start_norm, end_norm = np.linalg.norm(start), np.linalg.norm(end)
    if start_norm == 0.0 or end_norm == 0.0:
        return (1 - t) * start + t * end  # a zero code has no direction to turn
    u0, u1 = start / start_norm, end / end_norm
    angle = np.arccos(np.clip(u0 @ u1, -1.0, 1.0))
    if np.sin(angle) < 1e-6:
        # Parallel: no turn needed. Opposite: every great circle qualifies, so none is chosen and
        # the path goes straight through the origin.
        return (1 - t) * start + t * end
    direction = (np.sin((1 - t) * angle) * u0 + np.sin(t * angle) * u1) / np.sin(angle)
    return direction * ((1 - t) * start_norm + t * end_norm)
