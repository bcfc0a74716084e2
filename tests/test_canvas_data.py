"""The drawing canvas's image data arrives from the browser: crafted values (not an image, no base64,
a PNG declaring 14000x14000 pixels, too many bytes) are refused in one sentence before anything large
is decoded, and a real drawing still becomes a digit."""
from __future__ import annotations

import base64
import importlib.util
import io
import resource
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from aecore.data.user_images import MAX_IMAGE_BYTES
from aecore.errors import ImageError
from app.drawing import canvas_digit

SIDE = 280  # the Draw page's canvas


def result(data_url):
    """What streamlit-drawable-canvas 0.13's `st_canvas` returns, as far as `canvas_digit` reads it."""
    return SimpleNamespace(_image_data_url=data_url)


def png_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def huge_png(width: int, height: int, rows: int = 64) -> bytes:
    """An RGBA PNG that declares width x height but carries only `rows` rows of zeros (a few KB)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    pixels = zlib.compress(bytes((1 + 4 * width) * rows), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def drawing_png(side: int = SIDE) -> bytes:
    """A white stroke on black, RGBA, as the canvas draws it."""
    pixels = np.zeros((side, side, 4), np.uint8)
    pixels[..., 3] = 255
    pixels[60:220, 130:150, :3] = 255  # a "1"
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_real_drawing_becomes_a_digit():
    digit = canvas_digit(result(png_url(drawing_png())), SIDE)
    assert digit.shape == (28, 28) and digit.max() == pytest.approx(1.0)
    assert digit[:, 14].sum() > digit[:, 4].sum()  # the stroke is centred


def test_a_blank_canvas_is_no_digit():
    assert canvas_digit(result(None), SIDE) is None
    assert canvas_digit(None, SIDE) is None


@pytest.mark.parametrize("value, reason", [
    (png_url(b"hello, not an image"), "cannot read image"),
    ("data:image/png," + "A" * 100, "not a PNG data URL"),  # no ;base64,
    ("data:text/html;base64,PGgxPg==", "not a PNG data URL"),
    ("data:image/png;base64,%%%not base64%%%", "not valid base64"),
    (12345, "not a PNG data URL"),
    ({"data": "x"}, "not a PNG data URL"),
    (png_url(b""), "empty"),
    ("data:image/png;base64," + "A" * (MAX_IMAGE_BYTES // 3 * 4 + 8), "larger than 10 MiB"),
])
def test_crafted_values_are_refused_in_one_sentence(value, reason):
    with pytest.raises(ImageError, match=reason) as info:
        canvas_digit(result(value), SIDE)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize("width, height", [(14000, 14000), (6300, 6300), (SIDE * 4 + 1, SIDE * 4)])
def test_more_pixels_than_the_canvas_has_are_refused_from_the_header(width, height):
    url = png_url(huge_png(width, height))
    assert len(url) < 300_000  # the 0.23 MB kind of message that took a server to 2.6 GB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError, match="too many pixels"):
        canvas_digit(result(url), SIDE)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024  # KiB: nothing decoded


def test_the_canvas_library_still_keeps_the_raw_data_url():
    # canvas_digit reads CanvasResult._image_data_url (pinned 0.13.0) to avoid its unchecked decode;
    # the module registers a component on import, so it is read as text rather than imported.
    source = Path(importlib.util.find_spec("streamlit_drawable_canvas").origin).read_text()
    assert "self._image_data_url = image_data_url" in source
    assert "Image.open(io.BytesIO(base64.b64decode(encoded)))" in source  # the decode this module avoids
