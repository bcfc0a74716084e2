"""Every page under Streamlit's AppTest with hostile entries in the model store: metadata that json
cannot parse (200,000 '[', a RecursionError) is left out of every list, and an entry whose weights are
not safetensors (with a matching checksum) counts as missing; no page shows an exception."""
from __future__ import annotations

import json
import shutil
import time

import pytest

from aecore.files import file_hash
from aecore.runs import get_or_train
from aecore.spec import make_spec
from aecore.store import META, WEIGHTS, ModelStore
from app.navigation import PAGES as NAVIGATION
from tests.apptest import open_page

PAGES = [file for file, *_ in NAVIGATION]  # every page of the sidebar

pytestmark = pytest.mark.usefixtures("fresh_app")  # tests/conftest.py


@pytest.fixture
def hostile_store():
    good, _ = get_or_train(make_spec("vae", "mnist-sample", hidden=(32,), latent=2, epochs=1))
    store = ModelStore()
    nested = store.root / ("e" * 20)
    nested.mkdir()
    (nested / META).write_text("[" * 200_000)
    (nested / WEIGHTS).write_bytes(b"\0" * 16)
    bad_weights = store.root / ("f" * 20)  # newest: the pages' pickers choose it first
    shutil.copytree(store.path(good.key), bad_weights)
    (bad_weights / WEIGHTS).write_bytes(b"\xff" * 64)
    meta = json.loads((bad_weights / META).read_text())
    meta.update(key="f" * 20, created=time.time() + 60, weights_sha256=file_hash(bad_weights / WEIGHTS))
    (bad_weights / META).write_text(json.dumps(meta))
    return good


@pytest.mark.filterwarnings("ignore:model store entry")
@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_an_exception(hostile_store, page):
    open_page(page, timeout_s=90)  # fails if the page shows an exception
