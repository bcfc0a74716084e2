"""Digits laid out in one picture (aecore.pictures), as the pages and the filter grid draw them."""
from __future__ import annotations

import numpy as np
import pytest

from aecore.pictures import tile_images


@pytest.mark.parametrize("border", [True, False])
def test_tiles_row_by_row_with_padding(border):
    images = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 3), np.float32)  # image k is all k
    picture = tile_images(images, ncols=3, pad=1, pad_value=-1, border=border)
    edge = 1 if border else 0
    assert picture.shape == (2 * 3 + (1 if border else -1), 3 * 4 + (1 if border else -1))
    assert picture.dtype == np.float32
    for k in range(5):
        r, c = divmod(k, 3)
        top, left = edge + r * 3, edge + c * 4
        assert (picture[top:top + 2, left:left + 3] == k).all()
    assert (picture == -1).sum() == picture.size - 5 * 6  # the rest, the empty sixth slot included, is padding


def test_default_columns_make_a_square_picture():
    assert tile_images(np.zeros((9, 4, 4)), pad=0).shape == (12, 12)
    assert tile_images(np.zeros((10, 4, 4)), pad=0).shape == (12, 16)  # 4 columns, 3 rows
