"""Samples of a set of labelled items that represent it: each class in proportion to its share,
seeded, so a look at a sample tells what the whole set holds."""
from __future__ import annotations

import numpy as np


def stratified_sample(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Positions into `labels` of at most `n` items, each class in proportion to its count (largest
    remainders; every class present gets at least one place while `n` allows), drawn at random with
    `seed` within each class. Sorted by class, then by position. All positions when `n` covers them.

    >>> stratified_sample(np.array([4] * 90 + [7] * 10), 10).tolist()[-1] >= 90
    True
    """
    labels = np.asarray(labels)
    if len(labels) <= n:
        return np.lexsort((np.arange(len(labels)), labels))
    classes, counts = np.unique(labels, return_counts=True)
    share = counts / counts.sum() * n
    places = np.floor(share).astype(int)
    if n >= len(classes):  # a class with a few members still shows one
        places = np.maximum(places, 1)
    while places.sum() > n:  # the minimum of one overshot: take back from the largest
        places[np.argmax(places - share)] -= 1
    for c in np.argsort(-(share - places), kind="stable")[: n - places.sum()]:
        places[c] += 1
    rng = np.random.default_rng(seed)
    picked = [np.sort(rng.choice(np.flatnonzero(labels == c), size=k, replace=False))
              for c, k in zip(classes, places) if k > 0]
    return np.concatenate(picked) if picked else np.zeros(0, dtype=int)
