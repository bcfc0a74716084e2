"""The Models page under Streamlit's AppTest (table, dataset filter, downloads, delete with a confirm
step) and the files behind its downloads."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from aecore.runs import get_or_train
from aecore.spec import make_spec
from app import exports, resources
from tests.apptest import open_page

PAGE = "models.py"


pytestmark = pytest.mark.usefixtures("fresh_app")  # tests/conftest.py


@pytest.fixture
def two_models():
    ae, _ = get_or_train(make_spec("ae", "mnist-sample", hidden=(16,), epochs=1))
    vae, _ = get_or_train(make_spec("vae", "mnist-sample", hidden=(32,), latent=2, epochs=1))
    return ae, vae


def table(at: AppTest):
    return at.dataframe[0].value


def test_an_empty_cache_says_so():
    at = open_page(PAGE)
    assert any("cache is empty" in i.value for i in at.info)


def test_the_table_lists_every_model_with_its_results(two_models):
    ae, vae = two_models
    at = open_page(PAGE)
    df = table(at)
    assert set(df["key"]) == {ae.key, vae.key}
    assert {"model", "family", "dataset", "epochs", "test loss", "loss parts", "training s",
            "created"} <= set(df.columns)
    assert "metrics" not in df.columns  # neither family reports any: no empty column
    row = df[df["key"] == vae.key].iloc[0]
    assert row["family"] == "vae" and row["epochs"] == 1 and "kl" in row["loss parts"]
    assert [d.label for d in at.get("download_button")][:4] == [
        "Weights (.safetensors)", "Metadata (.json)", "Codes of the test digits (.csv)", "Reconstructions (.png)"]


def test_the_dataset_filter_and_the_model_follow_the_url(two_models):
    ae, _ = two_models
    at = open_page(PAGE, {"model": ae.key, "show": "mnist-sample"})
    assert at.selectbox(key="mdl_pick").value == ae.key
    assert at.selectbox(key="mdl_dataset").value == "mnist-sample"
    at = open_page(PAGE, {"model": "not-a-key", "show": "/etc/passwd"})
    assert at.selectbox(key="mdl_dataset").value == "all"
    assert at.selectbox(key="mdl_pick").value in table(at)["key"].tolist()


def test_a_stacked_models_reconstructions_say_why_they_are_poor(two_models):
    ae, _ = two_models
    stacked, _ = get_or_train(make_spec("stacked", "mnist-sample", hidden=(32, 16), levels=(0.1, 0.2),
                                        pretrain_epochs=1, epochs=1))
    said = "fine-tuned as a digit classifier"
    assert any(said in c.value for c in open_page(PAGE, {"model": stacked.key}).caption)
    assert not any(said in c.value for c in open_page(PAGE, {"model": ae.key}).caption)


def test_delete_asks_first_then_removes_the_model(two_models):
    ae, vae = two_models
    at = open_page(PAGE, {"model": ae.key})
    at.button(key="mdl-delete").click().run()
    assert any("Delete **" in w.value for w in at.warning)
    at.button(key="mdl-delete-no").click().run()
    assert not at.warning and set(table(at)["key"]) == {ae.key, vae.key}

    at.button(key="mdl-delete").click().run()
    at.button(key="mdl-delete-yes").click().run()
    assert not at.exception
    assert any("Deleted" in s.value for s in at.success)
    assert table(at)["key"].tolist() == [vae.key]
    assert resources.registry().store.load(ae.key) is None


def test_download_files(two_models):
    ae, _ = two_models
    data = resources.dataset("mnist-sample")
    lines = exports.codes_csv(ae.key, "mnist-sample").splitlines()
    assert lines[0] == "index,label," + ",".join(f"code_{i}" for i in range(16))
    assert len(lines) == 1 + len(data.x_test)
    first = lines[1].split(",")
    assert first[:2] == ["0", str(data.y_test[0])] and len(first) == 18
    stored_weights = resources.registry().store.path(ae.key) / "weights.safetensors"
    assert exports.weights_bytes(ae.key) == stored_weights.read_bytes()
    assert json.loads(exports.meta_json(ae.key))["key"] == ae.key
    image = Image.open(io.BytesIO(exports.reconstruction_png(ae.key, "mnist-sample")))
    assert image.mode == "L" and image.width > image.height
    filters = np.asarray(Image.open(io.BytesIO(exports.filters_png(ae.key))))
    assert filters.shape[0] == filters.shape[1]  # 16 filters: a 4 x 4 tile
    assert exports.download_stem("vae 512 z2 β=4", ae.key) == f"vae-512-z2-beta-4-{ae.key[:8]}"
    assert exports.download_stem("../../x", ae.key) == f"x-{ae.key[:8]}"
