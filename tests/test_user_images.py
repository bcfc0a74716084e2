"""MNIST-style normalisation of user images, and refusing what is not a usable image."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image
from scipy import ndimage

from aecore.data.user_images import MAX_IMAGE_BYTES, load_image_bytes, mnist_normalize
from aecore.errors import ImageError

# ---------------------------------------------------------------- helpers


def ell_mask(
    side: int = 200, top: int = 10, left: int = 10, height: int = 80, width: int = 50, thickness: int = 10
) -> np.ndarray:
    """An "L": a vertical bar with a foot to its right, placed off-centre. Asymmetric, so flips show."""
    mask = np.zeros((side, side), dtype=bool)
    mask[top:top + height, left:left + thickness] = True
    mask[top + height - thickness:top + height, left:left + width] = True
    return mask


def dark_on_light(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 0, 255).astype(np.uint8)


def png_bytes(image: Image.Image, **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=save_args.pop("format", "PNG"), **save_args)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but carries no pixel data: opening it costs nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def assert_mnist_like(digit: np.ndarray) -> None:
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert np.isfinite(digit).all()
    assert digit.min() >= 0.0 and digit.max() <= 1.0


def assert_foot_points_right(digit: np.ndarray) -> None:
    """The L's vertical bar is on the left and its foot at the bottom."""
    left, right = digit[:, :14].sum(), digit[:, 14:].sum()
    top, bottom = digit[:14].sum(), digit[14:].sum()
    assert left > right
    assert bottom > top * 0.5  # the foot pulls mass down; a vertical flip would move it to the top
    rows, cols = np.nonzero(digit > 0.5)
    bottom_row = rows.max()
    assert cols[rows >= bottom_row - 2].max() > cols[rows <= rows.min() + 2].max() + 5


# ---------------------------------------------------------------- geometry


def test_off_centre_dark_ink_is_inverted_scaled_and_centred():
    digit = mnist_normalize(dark_on_light(ell_mask()))

    assert_mnist_like(digit)
    assert digit.max() == pytest.approx(1.0)
    row, col = ndimage.center_of_mass(digit)
    assert abs(row - 14.0) <= 1.0 and abs(col - 14.0) <= 1.0
    rows, cols = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21  # 20 px + antialias
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) >= 18  # longer side fills the box
    assert digit[0].max() == 0 and digit[:, 0].max() == 0 and digit[-1].max() == 0  # dark background
    assert_foot_points_right(digit)


def test_light_ink_on_dark_background_is_not_inverted():
    mask = ell_mask()
    from_dark = mnist_normalize(np.where(mask, 255, 0).astype(np.uint8))
    from_light = mnist_normalize(dark_on_light(mask))

    assert from_dark[0, 0] == 0  # background stays dark
    np.testing.assert_allclose(from_dark, from_light, atol=1e-5)


def test_aspect_ratio_is_kept():
    mask = np.zeros((100, 100), dtype=bool)
    mask[10:90, 45:55] = True  # a bar 8 times taller than wide
    digit = mnist_normalize(dark_on_light(mask))

    rows, cols = np.nonzero(digit > 0.5)
    assert rows.max() - rows.min() + 1 == pytest.approx(20, abs=1)
    assert cols.max() - cols.min() + 1 <= 4


@pytest.mark.parametrize("stroke", [255, 0], ids=["white-strokes", "black-strokes"])
def test_canvas_strokes_on_transparent_background_match_plain_image(stroke):
    mask = ell_mask()
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)  # transparent black, as drawing canvases give
    rgba[mask] = (stroke, stroke, stroke, 255)

    expected = mnist_normalize(dark_on_light(mask))
    np.testing.assert_allclose(mnist_normalize(rgba), expected, atol=1e-5)
    np.testing.assert_allclose(mnist_normalize(Image.fromarray(rgba, mode="RGBA")), expected, atol=1e-5)


def test_transparent_margin_around_opaque_paper_counts_as_paper():
    mask = ell_mask()
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[..., :3] = dark_on_light(mask)[..., None]
    rgba[5:-5, 5:-5, 3] = 255  # opaque paper with a 5-pixel transparent frame
    digit = mnist_normalize(rgba)

    np.testing.assert_allclose(digit, mnist_normalize(dark_on_light(mask)), atol=1e-5)


# ---------------------------------------------------------------- no ink


@pytest.mark.parametrize(
    "image",
    [
        np.full((50, 40), 255, dtype=np.uint8),
        np.zeros((50, 40), dtype=np.uint8),
        np.full((50, 40), 128, dtype=np.uint8),
        np.full((30, 30), 0.5, dtype=np.float64),
        np.zeros((30, 30, 4), dtype=np.uint8),  # fully transparent canvas
        np.full((1, 1), 7, dtype=np.uint8),
        Image.new("RGB", (64, 64), (200, 200, 200)),
    ],
    ids=["white", "black", "grey", "float-grey", "transparent", "one-pixel", "pil-grey"],
)
def test_images_without_ink_give_none(image):
    assert mnist_normalize(image) is None


def test_nan_pixels_do_not_leak_into_the_result():
    image = np.full((40, 40), np.nan)
    assert mnist_normalize(image) is None
    image[10:30, 18:22] = 1.0
    assert_mnist_like(mnist_normalize(image))


# ---------------------------------------------------------------- formats


def ell_image(mode: str) -> Image.Image:
    return Image.fromarray(dark_on_light(ell_mask(side=80, height=40, width=25, thickness=5))).convert(mode)


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "RGB", "RGBA", "CMYK", "I", "F", "I;16"])
def test_every_pil_mode_gives_the_same_digit(mode):
    reference = mnist_normalize(ell_image("L"))
    digit = mnist_normalize(ell_image(mode))
    assert_mnist_like(digit)
    np.testing.assert_allclose(digit, reference, atol=0.02)


@pytest.mark.parametrize(
    "mode,fmt", [("I;16", "PNG"), ("P", "PNG"), ("LA", "PNG"), ("1", "PNG"), ("CMYK", "JPEG"), ("RGB", "BMP")]
)
def test_file_bytes_in_various_modes(mode, fmt):
    data = png_bytes(ell_image(mode), format=fmt)
    digit = mnist_normalize(data)
    assert_mnist_like(digit)
    assert_foot_points_right(digit)


def test_sixteen_bit_png_keeps_its_depth():
    values = np.where(ell_mask(side=60, height=30, width=20, thickness=4), 0, 65535).astype(np.uint16)
    data = png_bytes(Image.fromarray(values))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    assert_foot_points_right(mnist_normalize(data))


def test_palette_image_with_transparent_background():
    mask = ell_mask(side=60, height=30, width=20, thickness=4)
    image = Image.fromarray(mask.astype(np.uint8), mode="L").convert("P")
    image.putpalette([255, 255, 255, 255, 255, 255])  # white strokes on a "white" transparent index
    image.info["transparency"] = 0
    digit = mnist_normalize(png_bytes(image, transparency=0))
    assert_foot_points_right(digit)


def test_animated_gif_uses_first_frame():
    first = Image.fromarray(dark_on_light(ell_mask(side=60, height=30, width=20, thickness=4)))
    second = Image.fromarray(dark_on_light(ell_mask(side=60, height=30, width=20, thickness=4).T))  # flipped L
    data = png_bytes(first, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2

    np.testing.assert_allclose(mnist_normalize(data), mnist_normalize(first), atol=0.02)
    animated = Image.open(io.BytesIO(data))
    animated.seek(1)
    np.testing.assert_allclose(mnist_normalize(animated), mnist_normalize(first), atol=0.02)


def test_exif_orientation_is_applied():
    upright = Image.fromarray(dark_on_light(ell_mask(side=60, height=30, width=20, thickness=4)))
    exif = Image.Exif()
    exif[0x0112] = 3  # "rotate 180 to display": the camera stored the pixels upside down
    data = png_bytes(upright.rotate(180), format="JPEG", exif=exif, quality=95)
    np.testing.assert_allclose(mnist_normalize(data), mnist_normalize(upright), atol=0.05)


def test_large_photo_is_shrunk_but_still_centred():
    mask = np.zeros((3000, 2000), dtype=bool)
    mask[400:1600, 300:420] = True  # a thick "1" far from the centre
    digit = mnist_normalize(Image.fromarray(dark_on_light(mask)))
    assert_mnist_like(digit)
    row, col = ndimage.center_of_mass(digit)
    assert abs(row - 14.0) <= 1.0 and abs(col - 14.0) <= 1.0
    rows, _ = np.nonzero(digit > 0.5)
    assert rows.max() - rows.min() + 1 == pytest.approx(20, abs=1)


def test_load_image_bytes_returns_loaded_image():
    image = load_image_bytes(png_bytes(ell_image("L")))
    assert image.size == (80, 80)
    assert image.getpixel((0, 0)) == 255


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not an image",
        b"\x89PNG\r\n\x1a\n",  # signature alone
        png_header_only(20_000, 20_000),  # 400 megapixels: Pillow's own bomb check fires
        png_header_only(7_000, 7_000),  # 49 megapixels: under Pillow's limit, over ours
    ],
    ids=["empty", "text", "png-signature", "bomb-400mp", "bomb-49mp"],
)
def test_unusable_bytes_raise_image_error(data):
    with pytest.raises(ImageError):
        mnist_normalize(data)


def test_truncated_png_raises_image_error():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)  # incompressible
    data = png_bytes(Image.fromarray(noise))
    with pytest.raises(ImageError):
        mnist_normalize(data[: len(data) // 2])


def test_oversized_file_is_refused_before_decoding():
    with pytest.raises(ImageError, match="larger than"):
        load_image_bytes(b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES))


@pytest.mark.parametrize(
    "image",
    [np.zeros((4, 4, 5)), np.zeros((2, 2, 2, 2)), np.zeros((0, 5)), np.array([["a", "b"]]), "digit.png", None],
    ids=["5-channels", "4-d", "empty", "strings", "path", "none"],
)
def test_unreadable_inputs_raise_image_error(image):
    with pytest.raises(ImageError):
        mnist_normalize(image)


# ---------------------------------------------------------------- properties


def _seed_files() -> list[bytes]:
    small = ell_image("L").resize((20, 20))
    return [png_bytes(small, format=fmt) for fmt in ("PNG", "GIF", "BMP", "JPEG")]


SEED_FILES = _seed_files()


@st.composite
def damaged_files(draw) -> bytes:
    """A real small image file with some bytes overwritten and maybe cut short."""
    data = bytearray(draw(st.sampled_from(SEED_FILES)))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=512), damaged_files()))
def test_arbitrary_bytes_give_image_error_or_a_valid_digit(data):
    try:
        digit = mnist_normalize(data)
    except ImageError:
        return
    if digit is not None:
        assert_mnist_like(digit)


@settings(max_examples=200, deadline=None)
@given(arrays(np.uint8, array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)))
def test_arbitrary_grey_arrays_give_none_or_a_valid_digit(image):
    digit = mnist_normalize(image)
    if digit is not None:
        assert_mnist_like(digit)
        assert digit.max() == pytest.approx(1.0)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 30), st.sampled_from([2, 3, 4]))))
def test_arbitrary_float_colour_arrays_give_none_or_a_valid_digit(image):
    digit = mnist_normalize(image)
    if digit is not None:
        assert_mnist_like(digit)
