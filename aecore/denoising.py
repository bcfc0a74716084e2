"""Denoising, measured: digits corrupted like a denoising autoencoder's training input (with a fixed
seed, so the same settings give the same noise), a model's reconstruction of the corrupted digits, the
per-pixel error against the clean digits, and its mean over a set of digits. The Denoising page puts a
plain and a denoising model side by side on these."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aecore.metrics import reconstruct_images
from aecore.models import corrupt
from aecore.models.base import Autoencoder

NOISE_SEED = 0  # one fixed noise pattern, so a rerun shows the same corrupted digit


def corrupt_images(images: np.ndarray, kind: str, level: float, seed: int = NOISE_SEED) -> np.ndarray:
    """Digits (28, 28) or (N, 28, 28) in [0, 1] (uint8 are divided by 255) corrupted by `kind`
    (`aecore.models.dae.corrupt`) at `level`, float32 of the same shape; the same seed gives the same noise."""
    images = np.asarray(images)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.array(images, dtype=np.float32).reshape(-1, 784) / scale)  # (N, 784), a private copy
    return corrupt(x, kind, level, generator=generator).reshape(images.shape).numpy()


@dataclass(frozen=True)
class Denoised:
    """One model on corrupted digits, each array (N, 28, 28) in [0, 1]."""

    clean: np.ndarray  # the targets
    noisy: np.ndarray  # what the model sees
    recon: np.ndarray  # what it gives back
    error: np.ndarray  # |recon - clean|, per pixel

    @property
    def squared_error(self) -> np.ndarray:
        """(N,) mean squared error per pixel of each digit's reconstruction against its clean digit."""
        return (self.error.astype(np.float64) ** 2).mean(axis=(1, 2))


def denoise(model: Autoencoder, clean: np.ndarray, kind: str, level: float, seed: int = NOISE_SEED,
            noisy: np.ndarray | None = None) -> Denoised:
    """`model`'s reconstruction of `clean` digits (N, 28, 28) corrupted by `corrupt_images` (or of
    `noisy`, the same digits already corrupted, so two models see the very same noise)."""
    clean = np.asarray(clean)
    clean = clean.astype(np.float32) / 255.0 if clean.dtype == np.uint8 else clean.astype(np.float32)
    noisy = corrupt_images(clean, kind, level, seed) if noisy is None else np.asarray(noisy, dtype=np.float32)
    recon = reconstruct_images(model, noisy)
    return Denoised(clean=clean, noisy=noisy, recon=recon, error=np.abs(recon - clean))


def denoising_error(model: Autoencoder, clean: np.ndarray, kind: str, level: float, seed: int = NOISE_SEED,
                    batch_size: int = 1000) -> float:
    """Mean over `clean` digits (N, 28, 28) of `Denoised.squared_error`, corrupting `batch_size` digits at
    a time (batch b with seed `seed + b`), so a 10,000-digit test split never exists as four float copies."""
    if len(clean) == 0:
        raise ValueError("no digits to measure")
    total = 0.0
    for b, start in enumerate(range(0, len(clean), batch_size)):
        total += denoise(model, clean[start:start + batch_size], kind, level, seed + b).squared_error.sum()
    return total / len(clean)
