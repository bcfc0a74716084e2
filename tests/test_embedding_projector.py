"""Codes exported for the Embedding Projector parse as the projector reads them (row counts, sprite size,
configs), the Embeddings page's zip holds the map's own digits, and the README's notebook snippet runs."""
from __future__ import annotations

import csv
import io
import json
import math
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecore.data import load_dataset
from aecore.embedding_projector import (
    CONFIG_JSON,
    CONFIG_PBTXT,
    METADATA,
    SPRITE,
    VECTORS,
    projector_files,
    sprite_image,
)
from aecore.runs import get_or_train
from aecore.spec import make_spec

ROOT = Path(__file__).resolve().parents[1]


def read_tsv(contents: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(contents.decode()), delimiter="\t"))


@pytest.mark.parametrize("n", [1, 10, 16, 17])
def test_files_parse_with_one_row_per_code_and_a_square_sprite(n):
    rng = np.random.default_rng(n)
    codes = rng.normal(size=(n, 5)).astype(np.float32)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 3, n)
    files = projector_files(codes, labels, images, ["zero", "one", "two"], ids=np.arange(100, 100 + n), name="m")
    vectors = np.array(read_tsv(files[VECTORS]), dtype=np.float64)
    assert vectors.shape == (n, 5) and np.allclose(vectors, codes, atol=1e-5)
    header, *rows = read_tsv(files[METADATA])
    assert header == ["label", "class", "index"] and len(rows) == n
    assert [r[0] for r in rows] == [["zero", "one", "two"][c] for c in labels]
    assert [int(r[2]) for r in rows] == list(range(100, 100 + n))
    sprite = np.asarray(Image.open(io.BytesIO(files[SPRITE])))
    side = math.ceil(math.sqrt(n)) * 28
    assert sprite.shape == (side, side)
    last_r, last_c = divmod(n - 1, math.ceil(math.sqrt(n)))
    assert np.array_equal(sprite[last_r * 28:(last_r + 1) * 28, last_c * 28:(last_c + 1) * 28], images[-1])
    config = json.loads(files[CONFIG_JSON])["embeddings"][0]
    assert config["tensorShape"] == [n, 5] and config["sprite"]["singleImageDim"] == [28, 28]
    assert (config["tensorPath"], config["metadataPath"], config["sprite"]["imagePath"]) == (VECTORS, METADATA, SPRITE)
    assert f'tensor_path: "{VECTORS}"' in files[CONFIG_PBTXT].decode()


def test_mismatched_inputs_and_too_large_a_sprite_are_refused():
    with pytest.raises(ValueError, match="do not match"):
        projector_files(np.zeros((3, 2)), np.zeros(2, int), np.zeros((3, 28, 28)), ["a"])
    with pytest.raises(ValueError, match="export fewer"):
        sprite_image(np.zeros((293 * 293, 784), dtype=np.uint8))


@pytest.mark.usefixtures("fresh_app")
def test_the_embeddings_zip_holds_the_codes_of_the_digits_on_the_map():
    from app import exports, maps

    stored, _ = get_or_train(make_spec("ae", "mnist-sample", hidden=(32, 8), epochs=1))
    blob = exports.projector_zip_of(stored.key, "mnist-sample", 250, 3, "tiny-250")
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        files = {Path(name).name: archive.read(name) for name in archive.namelist()}
        assert {Path(name).parent.name for name in archive.namelist()} == {"tiny-250"}
    idx, codes = maps.test_codes(stored.key, "mnist-sample", 250, 3)
    assert np.allclose(np.array(read_tsv(files[VECTORS]), dtype=np.float64), codes, atol=1e-4)
    _, *rows = read_tsv(files[METADATA])
    assert [int(r[2]) for r in rows] == idx.tolist()
    assert [int(r[1]) for r in rows] == load_dataset("mnist-sample").y_test[idx].tolist()
    assert Image.open(io.BytesIO(files[SPRITE])).size == (16 * 28, 16 * 28)  # ceil(sqrt(250)) = 16


def test_the_notebook_snippet_reloads_a_stored_model_and_encodes_a_digit(capsys):
    get_or_train(make_spec("ae", "mnist-sample", hidden=(32, 6), epochs=1))  # into this test's AECORE_HOME
    runpy.run_path(str(ROOT / "examples" / "encode_a_digit.py"), run_name="__main__")
    assert "ae 32-6: digit 0 -> code (1, 6)" in capsys.readouterr().out
