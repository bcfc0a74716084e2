"""The Embeddings page under Streamlit's AppTest: it offers training with nothing cached, maps a tiny
model's codes, serves the same map again from the cache, follows its controls and the URL, and places
a drawing from the Draw page next to its nearest training digits."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.data import load_dataset
from aecore.maps.honesty import map_honesty
from aecore.maps.worker import MapWorkerError, shared_worker
from aecore.runs import get_or_train
from aecore.spec import make_spec
from app import figures, maps
from tests.apptest import open_page

PAGE = "embeddings.py"


pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


@pytest.fixture
def tiny_ae():
    stored, _ = get_or_train(make_spec("ae", "mnist-sample", hidden=(32, 8), epochs=1))
    return stored


def map_spec(at: AppTest) -> dict:
    """The map shown: the one of the chosen method (the page keeps the others, hidden)."""
    name = maps.METHOD_NAMES[at.radio(key="emb_method").value]
    specs = [json.loads(c.proto.spec) for c in at.get("echarts_chart")]
    shown = [s for s in specs if s["title"]["text"].startswith(name)]
    assert len(shown) == 1, [s["title"]["text"] for s in specs]
    return shown[0]


def map_x(at: AppTest) -> np.ndarray:
    """The x of every digit on the map (not the drawing's star)."""
    return np.array([p[0] for s in map_spec(at)["series"] if s["id"].startswith("class-") for p in s["data"]])


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_without_models_it_offers_to_train_the_default():
    at = open_page(PAGE)
    assert any(b.label.startswith("Train ae 32 (cntk-simple-ae)") for b in at.button)
    assert not at.get("echarts_chart")


def test_a_map_is_fitted_once_then_served_from_the_cache(tiny_ae):
    at = open_page(PAGE, {"method": "pca", "points": "250"})
    assert at.radio(key="emb_method").value == "pca"
    assert at.select_slider(key="emb_n").value == 250
    assert at.number_input(key="emb_seed").value == 0
    spec = map_spec(at)
    assert len(map_x(at)) == 250
    assert spec["title"]["text"].startswith("PCA of 250 test digits' 8-d codes")
    assert "Fitted" in captions(at)
    at.run()
    assert "From the cache" in captions(at)
    assert len(maps.projections()) == 1


@pytest.mark.slow  # t-SNE and UMAP fits
def test_controls_change_the_map_and_the_url(tiny_ae):
    at = open_page(PAGE, {"method": "pca", "points": "250"})
    before = map_x(at)
    at.number_input(key="emb_seed").set_value(3).run()
    after = map_x(at)
    assert at.query_params["seed"] in (["3"], "3")
    assert len(before) == len(after) == 250 and not np.allclose(np.sort(before), np.sort(after))  # other digits
    at.radio(key="emb_method").set_value("tsne").run()  # t-SNE reports progress while it fits
    assert not at.exception
    assert at.slider(key="emb_perplexity").value == 30
    assert at.query_params["method"] in (["tsne"], "tsne")
    assert map_spec(at)["title"]["text"].startswith("t-SNE")
    assert shared_worker().pid is not None  # fitted in the map worker process, not the server's
    assert not frames_left(at)
    trust = trust_table(at)  # beside a t-SNE map: its figures, the same codes' PCA's, and a PCA map
    assert [row[0] for row in trust] == ["t-SNE", "PCA", "codes"]
    assert all(0 < float(row[1]) <= 1 for row in trust)
    assert "PCA of the same codes" in [json.loads(c.proto.spec)["title"]["text"] for c in at.get("echarts_chart")]
    assert "distances between clusters" in captions(at)


def trust_table(at: AppTest) -> list[list[str]]:
    """The rows of the table beside the map: [map, trustworthiness, 10-NN accuracy]."""
    table = next(m.value for m in at.markdown if "| trust |" in m.value)
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


def test_beside_a_map_its_trust_and_10nn_accuracy_against_the_codes(tiny_ae):
    at = open_page(PAGE, {"method": "pca", "points": "250"})
    (name, trust, knn), (codes, one, knn_codes) = trust_table(at)
    assert (name, codes, one) == ("PCA", "codes", "1.00")
    idx, codes = maps.test_codes(tiny_ae.key, "mnist-sample", 250, 0)
    points = maps.projections().project(f"{tiny_ae.key}", codes, "pca").points
    measured = map_honesty(codes, points, load_dataset("mnist-sample").y_test[idx])
    assert (trust, knn, knn_codes) == (f"{measured.trustworthiness:.2f}", f"{measured.knn_map:.0%}",
                                       f"{measured.knn_codes:.0%}")
    assert "linear shadow" in captions(at) and not at.warning
    assert "trust and 10-NN" in captions(at)


def frames_left(at: AppTest) -> list[dict]:
    """Charts still showing the empty frame that stands in for a map while it is fitted."""
    return [spec for spec in (json.loads(c.proto.spec) for c in at.get("echarts_chart"))
            if any(g["style"]["text"] == "fitting the map…" for g in spec.get("graphic", []))]


def test_a_failed_fit_says_why_and_leaves_no_empty_frame(tiny_ae, monkeypatch):
    def fail(*args, **kwargs):
        raise MapWorkerError("the map process stopped unexpectedly (exit code -9); try again: it restarts")

    monkeypatch.setattr(shared_worker(), "fit", fail)
    at = open_page(PAGE, {"method": "umap", "points": "250"})
    assert any("stopped unexpectedly" in e.value for e in at.error)
    assert not frames_left(at) and not at.get("echarts_chart")


def test_bad_url_values_fall_back_to_defaults(tiny_ae):
    at = open_page(PAGE, {"method": "pca", "points": "123456", "seed": "-4", "model": "../../etc"})
    assert at.select_slider(key="emb_n").value == 1000  # min(2000, test split of 1,000)
    assert at.number_input(key="emb_seed").value == 0


def test_a_drawing_is_placed_with_its_nearest_training_digits(tiny_ae):
    digit = load_dataset("mnist-sample").x_test[0] / np.float32(255.0)
    at = open_page(PAGE, {"method": "pca", "points": "250"}, session={"drawing": digit.astype(np.float32)})
    star = [s for s in map_spec(at)["series"] if s["name"] == "your drawing"]
    assert len(star) == 1 and len(star[0]["data"]) == 1 and star[0]["symbol"].startswith("path://")
    assert any("nearest training digits" in s.value for s in at.subheader)
    assert len(at.get("image")) == 1 + 8  # the drawing and its 8 neighbours


def test_a_selection_on_the_map_gives_the_indices_of_the_digits_in_it():
    labels = np.array([0, 1, 0, 2, 1, 1])
    chart = figures.map_chart(np.arange(12.0).reshape(6, 2), labels, ["a", "b", "c"], title="t",
                              extra={"your drawing": np.zeros(2)})
    assert [s["id"] for s in chart["series"]] == ["class-0", "class-1", "class-2", "extra-your drawing"]
    selection = [{"series_index": 1, "series_id": "class-1", "data_indices": [0, 2]},  # digits 1 and 5
                 {"series_index": 2, "series_id": "class-2", "data_indices": [0, 7, -1, True]},  # digit 3
                 {"series_index": 3, "series_id": "extra-your drawing", "data_indices": [0]}]  # not a digit
    assert maps.selected_indices({"selection": {"selected": selection, "areas": []}}, chart) == [1, 3, 5]
    assert maps.selected_indices(None, chart) == []
    assert maps.selected_indices({"selection": {"selected": [], "areas": []}}, chart) == []


def test_a_pca_map_has_one_scale_on_both_axes_and_other_maps_fill_the_space():
    points = np.array([[0.0, 0.0], [10.0, 1.0], [4.0, -1.0]])
    square = figures.map_chart(points, np.zeros(3, int), ["a"], title="PCA", height=600, equal_axes=True)
    x, y, grid = square["xAxis"], square["yAxis"], square["grid"]
    assert grid["width"] == grid["height"] == 600 - figures.MAP_MARGIN["top"] - figures.MAP_MARGIN["bottom"]
    assert x["max"] - x["min"] == pytest.approx(y["max"] - y["min"]) == pytest.approx(10.5)
    assert x["min"] < 0 and x["max"] > 10 and y["min"] < -1 and y["max"] > 1
    free = figures.map_chart(points, np.zeros(3, int), ["a"], title="UMAP", height=600)
    assert "min" not in free["xAxis"] and "width" not in free["grid"]


@pytest.mark.slow  # t-SNE and UMAP fits
def test_maps_already_shown_stay_on_the_page_until_the_user_leaves(tiny_ae):
    at = open_page(PAGE, {"method": "pca", "points": "250"})
    pca = at.get("echarts_chart")[0].proto
    at.radio(key="emb_method").set_value("tsne").run()
    at.radio(key="emb_method").set_value("pca").run()
    charts = [c.proto for c in at.get("echarts_chart")]
    assert len(charts) == 2  # PCA shown, t-SNE kept hidden
    again = next(c for c in charts if json.loads(c.spec)["title"]["text"].startswith("PCA"))
    assert (again.id, again.spec) == (pca.id, pca.spec)  # the same chart: the browser keeps it mounted
    styles = " ".join(h.proto.body for h in at.get("html"))
    hidden = re.search(r"\.st-key-emb-kept-tsne \{([^}]*)\}", styles)
    assert hidden and "visibility: hidden" in hidden[1] and "height: 0" in hidden[1], styles
    assert ".st-key-emb-kept-pca" not in styles
    at.switch_page("../pages/draw.py").run()
    at.switch_page("../pages/embeddings.py").run()
    assert len(at.get("echarts_chart")) == 1  # coming back: only the map asked for


def test_a_kept_setting_that_no_longer_fits_goes_back_to_its_default(tiny_ae):
    at = open_page(PAGE, {"method": "pca", "points": "250"})
    at.switch_page("../pages/home.py").run()
    at.session_state["emb_n"] = 5000  # as if chosen on a dataset with more test digits than this one
    at.switch_page("../pages/embeddings.py").run()
    assert not at.exception
    assert at.select_slider(key="emb_n").value == 1000  # min(2000, test split of 1,000)
    assert at.radio(key="emb_method").value == "pca"
