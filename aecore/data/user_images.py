"""Turning any user image into an MNIST-style 28x28 digit.

MNIST digits were made by size-normalising each scanned digit to fit a 20x20 box (keeping its aspect
ratio, with anti-aliasing) and then centring its centre of mass in a 28x28 field, white ink on black.
`mnist_normalize` repeats those steps for an uploaded file, a PIL image, or a drawing-canvas array,
so a model trained on MNIST sees a user's digit in the form it knows. `load_image_bytes` is the one
place that decodes untrusted bytes, and `canvas_image_bytes` the one that reads a drawing canvas's
data URL (it arrives from the browser, so it passes the same limits as an upload and tighter ones
from the canvas's size); everything they refuse raises `ImageError`.
"""
from __future__ import annotations

import base64
import binascii
import io
import math

import numpy as np
from PIL import Image, ImageOps, ImageSequence

from aecore.errors import ImageError

MAX_IMAGE_BYTES = 10 * 2**20  # uploads larger than 10 MiB are refused before decoding
MAX_IMAGE_PIXELS = 40_000_000  # refused from the header, before the pixels are decompressed
CANVAS_PNG_PREFIX = "data:image/png;base64,"  # what a drawing canvas sends (HTMLCanvasElement.toDataURL)
MAX_CANVAS_SCALE = 4  # a canvas exports at most side x devicePixelRatio pixels; 4 covers every display
WORKING_SIDE = 1024  # larger images are box-averaged down to about this before processing

DIGIT_BOX = 20  # MNIST scales the ink to fit 20x20 ...
FIELD_SIDE = 28  # ... and centres it in a 28x28 field
CENTRE_OF_MASS = (14.0, 14.0)  # (row, col) where the ink's centre of mass is moved

MIN_CONTRAST = 0.05  # ink fainter than this above the background (about 13 grey levels) is no ink
INK_THRESHOLD = 0.1  # fraction of the strongest ink that counts towards the bounding box

_EXIF_ORIENTATION = 0x0112
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, the weights PIL uses for mode "L"


def canvas_image_bytes(data_url: object, side: int) -> bytes:
    """The PNG bytes of a drawing canvas's data URL, checked before anything is decoded.

    Parameters
    ----------
    data_url : str
        ``data:image/png;base64,...`` as the browser sent it (any value: it is untrusted).
    side : int
        The canvas's side in CSS pixels.

    Returns
    -------
    bytes
        The PNG file; decode it with `load_image_bytes(data, max_pixels=canvas_max_pixels(side))`.

    Raises
    ------
    ImageError
        If the value is not a base64 PNG data URL, or would decode to more than MAX_IMAGE_BYTES.
    """
    if not isinstance(data_url, str) or not data_url.startswith(CANVAS_PNG_PREFIX):
        raise ImageError("the drawing is not a PNG data URL")
    encoded = data_url[len(CANVAS_PNG_PREFIX):]
    if len(encoded) > (MAX_IMAGE_BYTES + 2) // 3 * 4:
        raise ImageError(f"the drawing is larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("the drawing is not valid base64") from None


def canvas_max_pixels(side: int) -> int:
    """The most pixels a canvas of `side` CSS pixels can export."""
    return (side * MAX_CANVAS_SCALE) ** 2


def load_image_bytes(data: bytes | bytearray | memoryview, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode an image file's bytes safely.

    Parameters
    ----------
    data : bytes
        The file contents, e.g. from an upload widget.
    max_pixels : int
        Images declaring more pixels are refused from their header (a canvas's data allows fewer).

    Returns
    -------
    PIL.Image.Image
        The first frame, fully loaded.

    Raises
    ------
    ImageError
        If the bytes are too large, not an image, truncated, or declare too many pixels.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"expected image bytes, got {type(data).__name__}")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"image file is larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    if len(data) == 0:
        raise ImageError("image file is empty")
    # Decoders for a dozen formats parse these untrusted bytes and fail in format-specific ways
    # (OSError, SyntaxError, struct.error, IndexError, ...); every failure means "not a usable image".
    try:
        image = Image.open(io.BytesIO(bytes(data)))
        _check_pixel_count(image.size, max_pixels)  # from the header alone, before any pixels are decompressed
        image.load()
        _check_pixel_count(image.size, max_pixels)  # some formats (ICO, JPEG draft) settle their size on load
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("image has too many pixels") from exc
    except Exception as exc:
        raise ImageError(f"cannot read image: {_short(exc)}") from exc
    return image


def mnist_normalize(image: Image.Image | np.ndarray | bytes) -> np.ndarray | None:
    """Normalise an image of a digit the way MNIST digits were made.

    Parameters
    ----------
    image : PIL.Image.Image, numpy.ndarray or bytes
        A PIL image (any mode, first frame if animated); an array of shape (H, W), (H, W, 1),
        (H, W, 2) grey+alpha, (H, W, 3) RGB or (H, W, 4) RGBA, either uint8/uint16 or float in
        [0, 1]; or the bytes of an image file. Dark-on-light and light-on-dark both work; fully
        transparent pixels count as background.

    Returns
    -------
    numpy.ndarray or None
        float32 array of shape (28, 28) with values in [0, 1], bright ink on black, maximum 1, ink
        scaled into a 20x20 box and its centre of mass at (14, 14). None when the image has no ink
        (blank or uniform).

    Raises
    ------
    ImageError
        If the input cannot be read as an image.
    """
    gray, alpha = _gray_and_alpha(image)
    ink = _ink(_composite(gray, alpha))
    if ink is None:
        return None
    digit = _fit_box(_crop_to_ink(ink))
    return _centre_in_field(digit)


def _gray_and_alpha(image: object) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey levels and opacity, both float64 (H, W) in [0, 1]; alpha is None for opaque images."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = load_image_bytes(image)
    if isinstance(image, Image.Image):
        return _pil_gray_and_alpha(image)
    if isinstance(image, np.ndarray):
        return _array_gray_and_alpha(image)
    raise ImageError(f"cannot read an image from {type(image).__name__}")


def _pil_gray_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    _check_pixel_count(image.size)
    try:
        if getattr(image, "is_animated", False):
            image = next(ImageSequence.Iterator(image))
        image = _upright(image)
        mode = image.mode
        if mode.startswith("I;16"):
            image, mode = image.convert("I"), "I"  # same values, and a mode that `reduce` accepts
        if mode in ("I", "F"):
            return _to_unit_range(np.asarray(_shrink(image))), None
        if mode == "LAB":  # PIL has no LAB -> L conversion, and the first band is lightness already
            return np.asarray(_shrink(image.getchannel(0)), dtype=np.float64) / 255.0, None
        if "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info:
            rgba = np.asarray(_shrink(image.convert("RGBA")), dtype=np.float64) / 255.0
            return rgba[..., :3] @ _LUMA, rgba[..., 3]
        return np.asarray(_shrink(image.convert("L")), dtype=np.float64) / 255.0, None
    except ImageError:
        raise
    except Exception as exc:  # lazily loaded images decode here; see load_image_bytes
        raise ImageError(f"cannot read image: {_short(exc)}") from exc


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation a phone camera records instead of rotating the pixels."""
    try:
        if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
            return ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block should not sink an otherwise readable photo
        pass
    return image


def _shrink(image: Image.Image) -> Image.Image:
    """Box-average a large photo down to about WORKING_SIDE pixels before it becomes float arrays.

    The digit ends up 20 pixels tall, so the detail lost is invisible, and a 40-megapixel upload no
    longer needs gigabytes of float64 intermediates.
    """
    factor = math.ceil(max(image.size) / WORKING_SIDE)
    return image.reduce(factor) if factor > 1 else image


def _array_gray_and_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise ImageError(f"expected an array of shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError("image has no pixels")
    _check_pixel_count((array.shape[1], array.shape[0]))
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(array):
        raise ImageError(f"cannot read an image from an array of {array.dtype}")
    values = _to_unit_range(array)
    if values.ndim == 2:
        return values, None
    channels = values.shape[2]
    gray = values[..., 0] if channels == 2 else values[..., :3] @ _LUMA
    alpha = values[..., -1] if channels in (2, 4) else None
    return gray, alpha


def _to_unit_range(array: np.ndarray) -> np.ndarray:
    """Pixel values as float64 in [0, 1], guessing the scale from the range the values fall in.

    The range decides rather than the dtype, because Pillow's conversions from 8-bit modes to
    "I;16", "I" and "F" keep values in 0..255.
    """
    if array.dtype == np.uint8:
        return array / 255.0
    values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = values.min(), values.max()
    if low < 0.0:
        return _stretch(values)
    for full_scale in (1.0, 255.0, 65535.0):
        if high <= full_scale:
            return values / full_scale
    return _stretch(values)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Map the value range onto [0, 1]; a constant image becomes all zeros (no ink)."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = values.min(), values.max()
    if not high > low:
        return np.zeros_like(values)
    # Halve first so that high - low cannot overflow for values near the float64 limits.
    return (values / 2 - low / 2) / (high / 2 - low / 2)


def _composite(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Flatten grey+alpha onto a background colour chosen so transparent pixels read as background.

    A drawing canvas gives opaque strokes (white or black) on a transparent background: the
    background must then contrast with the strokes, or white strokes would vanish on white. A
    photo with a transparent margin is mostly opaque paper: the margin should then look like the
    paper. The share of opaque pixels tells the two apart.
    """
    if alpha is None or alpha.min() >= 1.0:
        return gray
    opaque = alpha > 0.5
    if not opaque.any():
        return np.zeros_like(gray)  # nothing visible at all: blank
    typical = float(np.median(gray[opaque]))
    if opaque.mean() < 0.5:
        background = 0.0 if typical >= 0.5 else 1.0  # strokes: contrast with them
    else:
        background = typical  # paper: transparent parts look like the paper
    return alpha * gray + (1.0 - alpha) * background


def _ink(gray: np.ndarray) -> np.ndarray | None:
    """Ink strength in [0, 1] with the background at 0, or None if there is no ink."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:  # light background: dark ink on paper, so invert
        gray = 1.0 - gray
        border = 1.0 - border
    ink = np.clip(gray - np.median(border), 0.0, None)
    strongest = ink.max()
    if not strongest >= MIN_CONTRAST:
        return None
    return ink / strongest


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit_box(ink: np.ndarray) -> np.ndarray:
    """Resize so the longer side is DIGIT_BOX pixels, keeping the aspect ratio."""
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # PIL wants (w, h)
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)  # Lanczos rings below 0 and above 1


def _centre_in_field(digit: np.ndarray) -> np.ndarray | None:
    """Place the digit in a 28x28 field with its centre of mass at CENTRE_OF_MASS."""
    field = np.zeros((FIELD_SIDE, FIELD_SIDE))
    height, width = digit.shape
    top, left = (FIELD_SIDE - height) // 2, (FIELD_SIDE - width) // 2
    field[top:top + height, left:left + width] = digit
    mass = field.sum()
    if not mass > 0:
        return None
    rows, cols = np.indices(field.shape)
    centre_row, centre_col = (rows * field).sum() / mass, (cols * field).sum() / mass
    field = np.clip(_shift_bilinear(field, CENTRE_OF_MASS[0] - centre_row, CENTRE_OF_MASS[1] - centre_col), 0.0, 1.0)
    strongest = field.max()
    if not strongest > 0:
        return None
    return (field / strongest).astype(np.float32)


def _shift_bilinear(image: np.ndarray, down: float, right: float) -> np.ndarray:
    """Move the image by a sub-pixel amount, blending the four nearest whole-pixel shifts.

    Linear blending moves the ink without the ringing of spline shifts; ink pushed past the edge is
    lost, as it was for MNIST's rare lopsided digits. (scipy.ndimage.shift with order=1 does the
    same, but importing scipy.ndimage costs a third of a second.)
    """
    whole_down, whole_right = math.floor(down), math.floor(right)
    frac_down, frac_right = down - whole_down, right - whole_right
    return (
        (1 - frac_down) * (1 - frac_right) * _shift_whole(image, whole_down, whole_right)
        + frac_down * (1 - frac_right) * _shift_whole(image, whole_down + 1, whole_right)
        + (1 - frac_down) * frac_right * _shift_whole(image, whole_down, whole_right + 1)
        + frac_down * frac_right * _shift_whole(image, whole_down + 1, whole_right + 1)
    )


def _shift_whole(image: np.ndarray, down: int, right: int) -> np.ndarray:
    """Move the image by whole pixels, filling the uncovered edge with zeros."""
    height, width = image.shape
    shifted = np.zeros_like(image)
    if abs(down) < height and abs(right) < width:
        shifted[max(down, 0):height + min(down, 0), max(right, 0):width + min(right, 0)] = (
            image[max(-down, 0):height + min(-down, 0), max(-right, 0):width + min(-right, 0)]
        )
    return shifted


def _check_pixel_count(size: tuple[int, int], max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    width, height = size
    if width * height > max_pixels:
        limit = f"{max_pixels / 10**6:.3g}"
        raise ImageError(f"image has too many pixels ({width}x{height}, limit {limit} megapixels)")
    if width < 1 or height < 1:
        raise ImageError("image has no pixels")


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
