"""Measuring a trained model: codes, reconstructions, losses, probes and filter pictures.

The functions that take a model also take images of shape (N, 28, 28) or (N, 784), uint8 or float
in [0, 1], run the model in evaluation mode in batches, and return plain numpy arrays or dicts of
floats, so the dashboard and the CLI can show them without touching torch. The rest work on what
those return: codes (linear probe, cosine similarities) and first-layer weights (filter pictures).
"""
from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from aecore.errors import ConfigError
from aecore.import_lock import heavy_imports
from aecore.inference import evaluating, flat_images, map_batches, model_device, to_unit_float
from aecore.models.base import IMAGE_SIDE, Autoencoder
from aecore.models.vae import VariationalAutoencoder
from aecore.pictures import tile_images

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. (2016): a unit is active if Cov_x(E[z|x]) exceeds this
PROBE_MAX_TRAIN = 5000  # the linear probe fits on at most this many codes, to stay interactive
_EPS = 1e-7  # probabilities are clamped away from 0 and 1 before taking logs


def encode_images(model: Autoencoder, images: np.ndarray | torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Codes of the images, float32 of shape (N, D); VAEs give their posterior means."""
    rows = flat_images(images)
    with evaluating(model):
        return map_batches(model.encode, rows, model_device(model), batch_size)


def reconstruct_images(
    model: Autoencoder, images: np.ndarray | torch.Tensor, batch_size: int = 1024
) -> np.ndarray:
    """Deterministic reconstructions, float32 of shape (N, 28, 28) with values in [0, 1]."""
    rows = flat_images(images)
    with evaluating(model):
        flat = map_batches(model.reconstruct, rows, model_device(model), batch_size)
    return flat.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def reconstruction_metrics(
    model: Autoencoder, images: np.ndarray | torch.Tensor, batch_size: int = 1024
) -> dict[str, float]:
    """Reconstruction error of the model on the images.

    Returns
    -------
    dict
        ``bce``: binary cross-entropy per pixel; ``mse``: squared error per pixel; ``bce_sum``:
        cross-entropy summed over the pixels of an image, averaged over images (the scale of the
        classic dA and VAE papers).
    """
    rows = flat_images(images)
    n_images, n_pixels = rows.shape
    if n_images == 0:
        raise ValueError("no images to measure")
    device = model_device(model)
    bce_total = se_total = 0.0
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            x = to_unit_float(rows[start:start + batch_size], device)
            x_hat = model.reconstruct(x)
            bce_total += F.binary_cross_entropy(x_hat.clamp(_EPS, 1 - _EPS), x, reduction="sum").item()
            se_total += ((x_hat - x) ** 2).sum().item()
    return {
        "bce": bce_total / (n_images * n_pixels),
        "mse": se_total / (n_images * n_pixels),
        "bce_sum": bce_total / n_images,
    }


def reconstruction_errors(
    model: Autoencoder, images: np.ndarray | torch.Tensor, batch_size: int = 1024
) -> np.ndarray:
    """Each image's reconstruction error: binary cross-entropy per pixel, float64 of shape (N,)."""
    rows = flat_images(images)
    device = model_device(model)
    errors = []
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            x = to_unit_float(rows[start:start + batch_size], device)
            x_hat = model.reconstruct(x).clamp(_EPS, 1 - _EPS)
            errors.append(F.binary_cross_entropy(x_hat, x, reduction="none").mean(dim=1).double().cpu().numpy())
    if not errors:
        raise ValueError("no images to measure")
    return np.concatenate(errors)


def vae_metrics(model: Autoencoder, images: np.ndarray | torch.Tensor, batch_size: int = 1024) -> dict:
    """The parts of a VAE's negative ELBO, and how many code dimensions it uses.

    The reconstruction term is evaluated at the posterior mean, so ``elbo_loss`` is a deterministic
    estimate (slightly optimistic compared with sampling z).

    Returns
    -------
    dict
        ``recon``: Bernoulli cross-entropy summed over pixels, mean per image; ``kl``: KL(q(z|x) ||
        N(0, I)), mean per image; ``elbo_loss``: recon + kl; ``kl_per_dim``: list of the mean KL of
        each code dimension; ``mu_variance_per_dim``: list of Var_x(E[z|x]) per dimension;
        ``active_units``: number of dimensions whose variance exceeds ACTIVE_UNIT_THRESHOLD.
    """
    if not model.is_variational:
        raise ConfigError("ELBO metrics need a variational model")
    rows = flat_images(images)
    if len(rows) == 0:
        raise ValueError("no images to measure")
    device = model_device(model)
    recon_total = 0.0
    kl_totals = torch.zeros(model.code_dim, dtype=torch.float64)
    means = []
    with evaluating(model):
        for start in range(0, len(rows), batch_size):
            x = to_unit_float(rows[start:start + batch_size], device)
            mu, logvar = cast(VariationalAutoencoder, model).encode_dist(x)  # (B, D), (B, D)
            x_hat = model.decode(mu).clamp(_EPS, 1 - _EPS)
            recon_total += F.binary_cross_entropy(x_hat, x, reduction="sum").item()
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # (B, D), closed form per dimension
            kl_totals += kl.sum(dim=0).double().cpu()
            means.append(mu.double().cpu().numpy())
    n_images = len(rows)
    kl_per_dim = (kl_totals / n_images).tolist()
    mu_variance = np.concatenate(means).var(axis=0)
    recon = recon_total / n_images
    kl_mean = float(sum(kl_per_dim))
    return {
        "recon": recon,
        "kl": kl_mean,
        "elbo_loss": recon + kl_mean,
        "kl_per_dim": kl_per_dim,
        "mu_variance_per_dim": mu_variance.tolist(),
        "active_units": int((mu_variance > ACTIVE_UNIT_THRESHOLD).sum()),
    }


def linear_probe_accuracy(
    train_feats: np.ndarray,
    train_labels: np.ndarray,
    test_feats: np.ndarray,
    test_labels: np.ndarray,
    *,
    max_iter: int = 300,
    max_train: int = PROBE_MAX_TRAIN,
    seed: int = 0,
) -> float:
    """Test accuracy of a logistic regression fitted on standardised features.

    Parameters
    ----------
    train_feats, test_feats : numpy.ndarray
        Features (codes) of shape (N, D) and (M, D).
    train_labels, test_labels : numpy.ndarray
        Integer labels of shape (N,) and (M,).
    max_iter : int
        Iteration limit of the L-BFGS solver.
    max_train : int
        A random subset of at most this many training rows is used, to keep the probe fast.
    seed : int
        Seed of that subset.

    Returns
    -------
    float
        Fraction of test rows classified correctly.
    """
    with heavy_imports:  # sklearn is slow to import, and only the probe needs it
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits

    train_feats, train_labels = np.asarray(train_feats), np.asarray(train_labels)
    if len(train_feats) > max_train:
        keep = np.random.default_rng(seed).choice(len(train_feats), size=max_train, replace=False)
        train_feats, train_labels = train_feats[keep], train_labels[keep]
    if len(np.unique(train_labels)) < 2:
        raise ConfigError("the linear probe needs at least two classes in its training labels")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    # One BLAS thread: a 3,600 x 64 fit took 12 s, against 72 s on two threads, with both cores busy (load 20).
    with threadpool_limits(1):
        probe.fit(train_feats, train_labels)
        return float(probe.score(np.asarray(test_feats), np.asarray(test_labels)))


def neighbour_accuracy(
    train_feats: np.ndarray,
    train_labels: np.ndarray,
    test_feats: np.ndarray,
    test_labels: np.ndarray,
    *,
    k: int = 10,
    batch_size: int = 512,
) -> float:
    """Test accuracy of a k-nearest-neighbour vote (Euclidean) among the training features.

    Ties between classes go to the class of the nearer neighbours (the smallest summed rank).

    Returns
    -------
    float
        Fraction of test rows whose k nearest training rows mostly carry their label.
    """
    train = np.asarray(train_feats, dtype=np.float32)
    test = np.asarray(test_feats, dtype=np.float32)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if not 1 <= k <= len(train):
        raise ConfigError(f"k must be between 1 and the {len(train)} training rows, got {k}")
    if len(test) == 0:
        raise ValueError("no test rows to classify")
    n_classes = int(max(train_labels.max(), test_labels.max())) + 1
    train_sq = (train ** 2).sum(axis=1)  # (N,)
    weights = 1.0 + (k - np.arange(k)) / (k + 1.0) / k  # a vote of 1, plus less than 1/k for nearness
    correct = 0
    for start in range(0, len(test), batch_size):
        block = test[start:start + batch_size]  # (B, D)
        dist = train_sq[None, :] - 2.0 * block @ train.T  # (B, N): squared distance less |test|², same order
        near = np.argpartition(dist, k - 1, axis=1)[:, :k]  # (B, k), unordered
        order = np.take_along_axis(dist, near, axis=1).argsort(axis=1)
        near = np.take_along_axis(near, order, axis=1)  # (B, k), nearest first
        votes = np.zeros((len(block), n_classes))
        np.add.at(votes, (np.arange(len(block))[:, None], train_labels[near]), weights[None, :])
        correct += int((votes.argmax(axis=1) == test_labels[start:start + batch_size]).sum())
    return correct / len(test)


def cosine_similarity_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarities between the rows of `a` (N, D) and of `b` (M, D, default `a`), shape (N, M).

    A zero row has similarity 0 with everything (rather than NaN).
    """
    a_unit = _unit_rows(a)
    b_unit = a_unit if b is None else _unit_rows(b)
    return np.clip(a_unit @ b_unit.T, -1.0, 1.0)


def brightest_pixel_error(originals: np.ndarray, decoded: np.ndarray) -> float:
    """CNTK 105's "error", `classification_error(output, target)` with the image as its target:
    1 − sum(target · hardmax(output)), i.e. one minus the original's brightness (in [0, 1]) at the
    decoded image's brightest pixel, averaged over images. For a black-and-white digit it is the share
    of images whose brightest decoded pixel is not one of the digit's brightest pixels; grey strokes
    count in part. Both arrays (N, 784) or (N, 28, 28), values in [0, 1]."""
    a, b = np.asarray(flat_images(originals)), np.asarray(flat_images(decoded))
    at_decoded_max = np.take_along_axis(a, b.argmax(axis=1)[:, None], axis=1)[:, 0]
    return float(np.mean(1.0 - at_decoded_max))


def reconstruction_agreement(model: Autoencoder, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How decoded images agree with their originals, as CNTK 105 measures it.

    Returns
    -------
    dict
        ``brightest_pixel_error`` (see `brightest_pixel_error`); ``cosine_original_decoded``: the mean
        cosine similarity of each image with its decode; and, where the images have them, CNTK's pairs:
        ``cosine_6_6_original`` / ``cosine_6_6_decoded`` (the first two 6s) and ``cosine_3_8_original`` /
        ``cosine_3_8_decoded`` (the first 3 and the first 8).
    """
    originals = np.asarray(flat_images(images), dtype=np.float64)
    originals = originals / 255.0 if np.asarray(images).dtype == np.uint8 else originals
    decoded = reconstruct_images(model, images).reshape(len(originals), -1).astype(np.float64)
    unit_a, unit_b = _unit_rows(originals), _unit_rows(decoded)
    out = {"brightest_pixel_error": brightest_pixel_error(originals, decoded),
           "cosine_original_decoded": float(np.mean(np.sum(unit_a * unit_b, axis=1)))}
    labels = np.asarray(labels)
    for first, second in ((6, 6), (3, 8)):
        i = np.flatnonzero(labels == first)
        j = np.flatnonzero(labels == second)
        pair = (i[:2] if first == second else np.concatenate([i[:1], j[:1]]))
        if len(pair) == 2:
            out[f"cosine_{first}_{second}_original"] = float(unit_a[pair[0]] @ unit_a[pair[1]])
            out[f"cosine_{first}_{second}_decoded"] = float(unit_b[pair[0]] @ unit_b[pair[1]])
    return out


def filter_grid(
    weights: np.ndarray | torch.Tensor, ncols: int | None = None, pad: int = 1, pad_value: float = 0.0
) -> np.ndarray:
    """Tile first-layer filters into one picture, as in the deeplearning.net denoising-autoencoder tutorial.

    Parameters
    ----------
    weights : numpy.ndarray or torch.Tensor
        Filters of shape (H, P) where P is a square number of pixels (784 for 28x28).
    ncols : int, optional
        Tiles per row; ``ceil(sqrt(H))`` by default, for a roughly square picture.
    pad : int
        Pixels of `pad_value` between neighbouring tiles (none around the outside).
    pad_value : float
        Grey level of the padding.

    Returns
    -------
    numpy.ndarray
        float32 image of shape (rows * (s + pad) - pad, ncols * (s + pad) - pad) with values in
        [0, 1], where s is the filter side; each filter is scaled to its own min/max.
    """
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[0] == 0:
        raise ValueError(f"expected filters of shape (H, P), got {weights.shape}")
    n_filters, n_pixels = weights.shape
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise ValueError(f"filters of {n_pixels} pixels are not square images")
    low = weights.min(axis=1, keepdims=True)
    spread = weights.max(axis=1, keepdims=True) - low
    # A constant filter has no contrast to show: draw it mid-grey instead of dividing by zero.
    scaled = np.where(spread > 0, (weights - low) / np.where(spread > 0, spread, 1.0), 0.5)
    return tile_images(scaled.reshape(n_filters, side, side), ncols, pad, pad_value, border=False)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a matrix of shape (N, D), got {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
