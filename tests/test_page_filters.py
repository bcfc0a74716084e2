"""The Filters & codes page under Streamlit's AppTest: it offers both lecture denoising autoencoders
with nothing cached, shows a trained model's filters, similarity heatmaps and linear probes, follows
its controls and the URL, and says so briefly for a model without dense filters."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.runs import get_or_train
from aecore.spec import make_spec
from tests.apptest import open_page

PAGE = "filters.py"


pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


def heatmap_ticks(at: AppTest) -> list[list[str]]:
    charts = [json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")]
    return [c["x"] for c in charts if c["type"] == "heatmap"]  # not the unit inspector's filter grid


def test_without_models_both_denoising_autoencoders_are_offered():
    at = open_page(PAGE)
    labels = [b.label for b in at.button]
    assert any(label.startswith("Train dae 500 masking 0 (theano-da) now") for label in labels)
    assert any(label.startswith("Train dae 500 masking 0.3 (theano-da-0.3) now") for label in labels)
    assert not at.get("plotly_chart")


@pytest.mark.slow  # trains two models and a probe
def test_a_trained_model_shows_filters_similarities_and_probes():
    get_or_train(make_spec("dae", "mnist-sample", hidden=(64,), level=0.3, epochs=1))
    at = open_page(PAGE, {"classes": "1,7", "per_class": "2"})
    assert at.select_slider(key="flt_n").value == 100
    assert at.multiselect(key="flt_classes").value == [1, 7]
    assert any("first 64 filters" in (img.proto.imgs[0].caption if img.proto.imgs else "")
               for img in at.get("image"))
    code_ticks, pixel_ticks = heatmap_ticks(at)
    assert code_ticks == pixel_ticks and len(code_ticks) == 4 and code_ticks[0].startswith("1 #")
    summary = " ".join(m.value for m in at.markdown)
    assert "same class vs different class" in summary and "codes" in summary

    at.slider(key="flt_per").set_value(3).run()
    assert len(heatmap_ticks(at)[0]) == 6
    assert at.query_params["per_class"] in (["3"], "3")

    at.button(key="flt-probe").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    codes = next(v for k, v in metrics.items() if k.startswith("Test accuracy on the codes (64"))
    pixels = metrics["Test accuracy on raw pixels (784 numbers)"]
    assert codes.endswith("%") and 50 < float(pixels.rstrip("%")) <= 100


def test_bad_url_classes_fall_back_to_defaults():
    get_or_train(make_spec("ae", "mnist-sample", hidden=(16,), epochs=1))
    at = open_page(PAGE, {"classes": "1,99,../x", "per_class": "50"})
    assert at.multiselect(key="flt_classes").value == [4, 7, 9]
    assert at.slider(key="flt_per").value == 3


@pytest.mark.slow  # trains a conv_vae
def test_a_convolutional_model_says_it_has_no_filters():
    get_or_train(make_spec("conv_vae", "mnist-sample", filters=8, dense=16, epochs=1))
    at = open_page(PAGE)
    assert any("no 28×28 filters" in i.value for i in at.info)


def test_the_unit_inspector_follows_the_picked_unit_and_shows_a_sparse_units_target():
    sparse, _ = get_or_train(make_spec("sparse", "mnist-sample", hidden=(64,), epochs=1))
    at = open_page(PAGE, {"umodel": sparse.key, "unit": "3"})
    captions = [c for img in at.get("image") for c in img.captions]
    assert "Unit 3's 784 weights: blue pixels excite it, orange ones inhibit it" in captions
    assert any(c.startswith("The 9 of 1,000 test digits that excite it most") for c in captions)
    text = " ".join(m.value for m in at.markdown)
    assert "mean activation over the test digits is" in text and "ρ = 0.05" in text
    assert re.search(r"\b\d+ of 64 units average above ρ", text)
    assert "No drawing yet" in text and "drives unit 3 to" in text

    at.number_input(key="unit_n").set_value(5).run()
    assert not at.exception and at.query_params["unit"] in (["5"], "5")
    assert "Unit 5's 784 weights: blue pixels excite it, orange ones inhibit it" in \
        [c for img in at.get("image") for c in img.captions]

    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1.0
    at.session_state["drawing"] = digit  # as the Draw page leaves it
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert "**Your drawing** drives unit 5 to" in text and "No drawing yet" not in text
