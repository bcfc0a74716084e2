"""Pictures made of many digits: images laid out in one grid image. Needs numpy only, so the
dashboard's first page can draw its digits without importing torch."""
from __future__ import annotations

import math

import numpy as np


def tile_images(images: np.ndarray, ncols: int | None = None, pad: int = 2, pad_value: float = 1.0,
                border: bool = True) -> np.ndarray:
    """Lay (N, H, W) images out row by row in one float32 picture.

    Parameters
    ----------
    images : numpy.ndarray
        (N, H, W) images, N >= 1, values as they should appear (usually [0, 1]).
    ncols : int, optional
        Images per row; ``ceil(sqrt(N))`` by default, for a roughly square picture.
    pad : int
        Pixels of `pad_value` between neighbouring images.
    pad_value : float
        Grey level of the padding.
    border : bool
        Also pad around the outside.

    Returns
    -------
    numpy.ndarray
        (rows·(H + pad) ± pad, ncols·(W + pad) ± pad): plus pad with a border, minus pad without.
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    edge = pad if border else -pad
    out = np.full((nrows * (h + pad) + edge, ncols * (w + pad) + edge), pad_value, dtype=np.float32)
    first = pad if border else 0
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        top, left = first + r * (h + pad), first + c * (w + pad)
        out[top:top + h, left:left + w] = img
    return out
