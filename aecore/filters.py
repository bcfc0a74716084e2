"""Measures of first-layer filters that a caption can state about their picture: how concentrated each
filter's weight is on a few pixels, and how alike two pictures of filters are."""
from __future__ import annotations

import numpy as np

STRONGEST = 0.1  # the share of a filter's pixels whose weight `filter_concentration` counts


def filter_concentration(weights: np.ndarray, strongest: float = STRONGEST) -> float:
    """Mean over filters (rows of `weights`, (H, P)) of the share of a filter's squared weight carried
    by its strongest `strongest` of pixels: about 0.44 for noise-like filters of 784 Gaussian weights,
    near 1 for a filter that looks at one short stroke."""
    squared = np.sort(np.asarray(weights, dtype=np.float64) ** 2, axis=1)[:, ::-1]
    top = max(1, int(round(squared.shape[1] * strongest)))
    totals = squared.sum(axis=1)
    return float(np.mean(squared[:, :top].sum(axis=1) / np.where(totals > 0, totals, 1.0)))


def picture_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two pictures' pixels (None when their shapes differ or one is flat)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
