"""What one first-layer unit responds to: its activations on a set of digits, the digits that excite it
most, where one digit's activation falls among theirs, and (for a sparse autoencoder whose first layer
is its code) the mean activation its penalty pulls towards the target ρ. The Filters page's unit
inspector shows these beside the unit's filter (`Autoencoder.first_layer_weights`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecore.inference import evaluating, flat_images, map_batches, model_device
from aecore.models.base import Autoencoder

TOP_K = 9  # strongest digits shown per unit: a 3x3 tile
QUANTILES = 101  # activation quantiles kept per unit, for a percentile to within one point


@dataclass(frozen=True)
class UnitSummary:
    """Every first-layer unit's response to a set of digits."""

    mean: np.ndarray  # (H,) each unit's mean activation over the digits
    top: np.ndarray  # (H, k) indices of the digits that excite each unit most, strongest first
    top_values: np.ndarray  # (H, k) those activations
    quantiles: np.ndarray  # (H, QUANTILES) each unit's activation at percentiles 0, 1, ..., 100

    @property
    def n_units(self) -> int:
        return len(self.mean)


def unit_activations(model: Autoencoder, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """First-layer activations of `images` ((N, 28, 28) or (N, 784); uint8 or floats in [0, 1]), float32
    (N, H); raises NotImplementedError for a model without a dense first layer (conv_vae)."""
    rows = flat_images(images)
    with evaluating(model):
        return map_batches(model.first_layer_activations, rows, model_device(model), batch_size)


def summarize_units(activations: np.ndarray, k: int = TOP_K) -> UnitSummary:
    """The `UnitSummary` of activations (N, H) of N digits."""
    activations = np.asarray(activations, dtype=np.float32)
    k = min(k, len(activations))
    top = np.argsort(-activations, axis=0, kind="stable")[:k].T  # (H, k)
    return UnitSummary(mean=activations.mean(axis=0), top=top,
                       top_values=np.take_along_axis(activations.T, top, axis=1),
                       quantiles=np.percentile(activations, np.linspace(0, 100, QUANTILES), axis=0).T)


def share_below(summary: UnitSummary, unit: int, value: float) -> float:
    """About which share (0..1) of the summarised digits excite `unit` less than `value` does (to within
    one percentile: the first of the unit's percentiles that `value` does not exceed)."""
    first_not_below = int(np.searchsorted(summary.quantiles[unit], value, side="left"))
    return min(first_not_below, QUANTILES - 1) / (QUANTILES - 1)


def sparsity_target(model: Autoencoder) -> float | None:
    """The target mean activation ρ of the model's first-layer units: a sparse autoencoder with the KL
    penalty whose first layer is its code; None for any other model (its penalty names no ρ for them)."""
    cfg = model.cfg
    if model.family != "sparse" or cfg.sparsity != "kl" or len(cfg.hidden) != 1:
        return None
    return float(cfg.sparsity_target)
