"""Codes as files for TensorFlow's Embedding Projector (projector.tensorflow.org, or TensorBoard's
projector): a vectors TSV (one code per row), a metadata TSV (a header, then each digit's label, class
number and index), a sprite image of the digits in the same order, and the configs that tie them
together, packed into one zip by `projector_zip`. Needs numpy and Pillow only.
"""
from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Sequence

import numpy as np
from PIL import Image

SIDE = 28  # pixels of one digit in the sprite
VECTORS, METADATA, SPRITE = "vectors.tsv", "metadata.tsv", "sprite.png"
CONFIG_JSON, CONFIG_PBTXT = "projector_config.json", "projector_config.pbtxt"
# The projector's documented limit on a sprite's side: 8192 / 28 = 292 digits a row, 85,264 digits.
MAX_SPRITE_PX = 8192


def sprite_image(images: np.ndarray) -> np.ndarray:
    """The digits (N, 28, 28) or (N, 784), uint8 or in [0, 1], row by row in a square grid of
    ceil(sqrt(N)) tiles a side, no gaps (the projector's layout); unused tiles stay black. uint8."""
    images = np.asarray(images)
    pixels = images if images.dtype == np.uint8 else np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)
    pixels = pixels.reshape(len(pixels), SIDE, SIDE)
    columns = math.ceil(math.sqrt(len(pixels)))
    if columns * SIDE > MAX_SPRITE_PX:
        raise ValueError(f"{len(pixels):,} digits make a sprite over {MAX_SPRITE_PX} pixels a side; export fewer")
    sheet = np.zeros((columns * SIDE, columns * SIDE), dtype=np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        sheet[r * SIDE:(r + 1) * SIDE, c * SIDE:(c + 1) * SIDE] = image
    return sheet


def projector_files(codes: np.ndarray, labels: np.ndarray, images: np.ndarray, class_names: Sequence[str], *,
                    ids: np.ndarray | None = None, name: str = "codes") -> dict[str, bytes]:
    """The Embedding Projector's files for `codes` (N, D) of `images` with class `labels` (N,).

    `ids` are the digits' indices in their split (default 0..N-1); `name` names the tensor in the configs.
    Returns {file name: contents}: VECTORS, METADATA, SPRITE, CONFIG_JSON (for projector.tensorflow.org's
    "Load" dialog, served next to the files) and CONFIG_PBTXT (for TensorBoard's log folder).
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    ids = np.arange(len(codes)) if ids is None else np.asarray(ids)
    if codes.ndim != 2 or not len(codes) == len(labels) == len(images) == len(ids):
        raise ValueError(f"codes {codes.shape}, {len(labels)} labels, {len(images)} images and {len(ids)} ids "
                         "do not match")
    vectors = io.StringIO()
    np.savetxt(vectors, codes, fmt="%.6g", delimiter="\t")
    metadata = "label\tclass\tindex\n" + "".join(
        f"{class_names[int(c)]}\t{int(c)}\t{int(i)}\n" for c, i in zip(labels, ids))
    sprite = io.BytesIO()
    Image.fromarray(sprite_image(images), mode="L").save(sprite, format="PNG")
    config = {"embeddings": [{"tensorName": name, "tensorShape": list(codes.shape), "tensorPath": VECTORS,
                              "metadataPath": METADATA,
                              "sprite": {"imagePath": SPRITE, "singleImageDim": [SIDE, SIDE]}}]}
    pbtxt = (f'embeddings {{\n  tensor_name: "{name}"\n  tensor_path: "{VECTORS}"\n  metadata_path: "{METADATA}"\n'
             f'  sprite {{\n    image_path: "{SPRITE}"\n    single_image_dim: {SIDE}\n    single_image_dim: {SIDE}\n'
             "  }\n}\n")
    return {VECTORS: vectors.getvalue().encode(), METADATA: metadata.encode(), SPRITE: sprite.getvalue(),
            CONFIG_JSON: json.dumps(config, indent=1).encode(), CONFIG_PBTXT: pbtxt.encode()}


def projector_zip(files: dict[str, bytes], folder: str = "") -> bytes:
    """`files` ({name: contents}) as the bytes of a zip, inside `folder` when one is named."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file_name, contents in files.items():
            archive.writestr(f"{folder}/{file_name}" if folder else file_name, contents)
    return buffer.getvalue()
