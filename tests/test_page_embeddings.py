"""The Embeddings page under Streamlit's AppTest: it offers training with nothing cached, maps a tiny
model's codes, serves the same map again from the cache, follows its controls and the URL, and places
a drawing from the Draw page next to its nearest training digits."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.analysis.map_worker import MapWorkerError, shared_worker
from aecore.data import load_dataset
from aecore.runs import get_or_train
from aecore.spec import make_spec
from app import maps

ENTRY = Path(__file__).resolve().parents[1] / "app" / "Home.py"


pytestmark = pytest.mark.usefixtures("fresh_app")  # tests/conftest.py


@pytest.fixture
def tiny_ae():
    stored, _ = get_or_train(make_spec("ae", "mnist-sample", hidden=(32, 8), epochs=1))
    return stored


def open_page(query: dict | None = None, drawing: np.ndarray | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    if drawing is not None:
        at.session_state["drawing"] = drawing
    at.switch_page("../pages/embeddings.py").run()
    assert not at.exception, at.exception
    return at


def map_spec(at: AppTest) -> dict:
    """The map shown: the one of the chosen method (the page keeps the others, hidden)."""
    name = maps.METHOD_NAMES[at.radio(key="emb_method").value]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    shown = [s for s in specs if s["layout"]["title"]["text"].startswith(name)]
    assert len(shown) == 1, [s["layout"]["title"]["text"] for s in specs]
    return shown[0]


def values(array) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array dict {"dtype", "bdata"}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def map_x(at: AppTest) -> np.ndarray:
    return np.concatenate([values(t["x"]) for t in map_spec(at)["data"] if t.get("name") != "your drawing"])


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_without_models_it_offers_to_train_the_default():
    at = open_page()
    assert any(b.label.startswith("Train ae 256-32") for b in at.button)
    assert not at.get("plotly_chart")


def test_a_map_is_fitted_once_then_served_from_the_cache(tiny_ae):
    at = open_page({"method": "pca", "points": "250"})
    assert at.radio(key="emb_method").value == "pca"
    assert at.select_slider(key="emb_n").value == 250
    assert at.number_input(key="emb_seed").value == 0
    spec = map_spec(at)
    assert len(map_x(at)) == 250
    assert spec["layout"]["title"]["text"].startswith("PCA of 250 test digits' 8-d codes")
    assert "Fitted" in captions(at)
    at.run()
    assert "From the cache" in captions(at)
    assert len(maps.projections()) == 1


def test_controls_change_the_map_and_the_url(tiny_ae):
    at = open_page({"method": "pca", "points": "250"})
    before = map_x(at)
    at.number_input(key="emb_seed").set_value(3).run()
    after = map_x(at)
    assert at.query_params["seed"] in (["3"], "3")
    assert len(before) == len(after) == 250 and not np.allclose(np.sort(before), np.sort(after))  # other digits
    at.radio(key="emb_method").set_value("tsne").run()  # t-SNE reports progress while it fits
    assert not at.exception
    assert at.slider(key="emb_perplexity").value == 30
    assert at.query_params["method"] in (["tsne"], "tsne")
    assert map_spec(at)["layout"]["title"]["text"].startswith("t-SNE")
    assert shared_worker().pid is not None  # fitted in the map worker process, not the server's
    assert not frames_left(at)


def frames_left(at: AppTest) -> list[dict]:
    """Charts still showing the empty frame that stands in for a map while it is fitted."""
    return [spec for spec in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
            if any(a.get("text") == "fitting the map…" for a in spec["layout"].get("annotations", []))]


def test_a_failed_fit_says_why_and_leaves_no_empty_frame(tiny_ae, monkeypatch):
    def fail(*args, **kwargs):
        raise MapWorkerError("the map process stopped unexpectedly (exit code -9); try again: it restarts")

    monkeypatch.setattr(shared_worker(), "fit", fail)
    at = open_page({"method": "umap", "points": "250"})
    assert any("stopped unexpectedly" in e.value for e in at.error)
    assert not frames_left(at) and not at.get("plotly_chart")


def test_bad_url_values_fall_back_to_defaults(tiny_ae):
    at = open_page({"method": "pca", "points": "123456", "seed": "-4", "model": "../../etc"})
    assert at.select_slider(key="emb_n").value == 1000  # min(2000, test split of 1,000)
    assert at.number_input(key="emb_seed").value == 0


def test_a_drawing_is_placed_with_its_nearest_training_digits(tiny_ae):
    digit = load_dataset("mnist-sample").x_test[0] / np.float32(255.0)
    at = open_page({"method": "pca", "points": "250"}, drawing=digit.astype(np.float32))
    names = [t["name"] for t in map_spec(at)["data"]]
    assert "your drawing" in names
    assert any("nearest training digits" in s.value for s in at.subheader)
    assert len(at.get("image")) == 1 + 8  # the drawing and its 8 neighbours


def test_selected_indices_reads_customdata():
    event = {"selection": {"points": [{"customdata": 4}, {"customdata": [2]}, {"customdata": 4},
                                      {"x": 1.0}, {"customdata": 99}, {"customdata": True}]}}
    assert maps.selected_indices(event, 10) == [2, 4]
    assert maps.selected_indices(None, 10) == []
    assert maps.selected_indices({"selection": {"points": []}}, 10) == []


def test_small_maps_are_svg_and_large_ones_webgl():
    """A new chart is a fresh mount; below SVG_MAX_POINTS SVG mounts faster than a WebGL context."""
    from app.figures import SVG_MAX_POINTS, latent_scatter

    def kinds(n):
        rng = np.random.default_rng(0)
        fig = latent_scatter(rng.normal(size=(n, 2)), np.arange(n) % 10, [str(c) for c in range(10)],
                             extra={"your drawing": np.zeros(2)})
        return {t.name: t.type for t in fig.data}

    small, large = kinds(SVG_MAX_POINTS), kinds(SVG_MAX_POINTS + 1)
    assert {small[str(c)] for c in range(10)} == {"scatter"}
    assert {large[str(c)] for c in range(10)} == {"scattergl"}
    assert small["your drawing"] == large["your drawing"] == "scatter"  # the star stays on top, in SVG
    assert sum(len(t.x) for t in latent_scatter(np.zeros((30, 2)), np.arange(30) % 3, ["a", "b", "c"]).data) == 30


def test_maps_already_shown_stay_on_the_page_until_the_user_leaves(tiny_ae):
    at = open_page({"method": "pca", "points": "250"})
    pca = at.get("plotly_chart")[0].proto
    at.radio(key="emb_method").set_value("tsne").run()
    at.radio(key="emb_method").set_value("pca").run()
    charts = [c.proto for c in at.get("plotly_chart")]
    assert len(charts) == 2  # PCA shown, t-SNE kept hidden
    again = next(c for c in charts if json.loads(c.spec)["layout"]["title"]["text"].startswith("PCA"))
    assert (again.id, again.spec) == (pca.id, pca.spec)  # the same chart: the browser keeps it mounted
    styles = " ".join(h.proto.body for h in at.get("html"))
    assert ".st-key-emb-kept-tsne { display: none; }" in styles
    assert ".st-key-emb-kept-pca { display: none; }" not in styles
    at.switch_page("../pages/draw.py").run()
    at.switch_page("../pages/embeddings.py").run()
    assert len(at.get("plotly_chart")) == 1  # coming back: only the map asked for


def test_a_kept_setting_that_no_longer_fits_goes_back_to_its_default(tiny_ae):
    at = open_page({"method": "pca", "points": "250"})
    at.switch_page("../pages/home.py").run()
    at.session_state["emb_n"] = 5000  # as if chosen on a dataset with more test digits than this one
    at.switch_page("../pages/embeddings.py").run()
    assert not at.exception
    assert at.select_slider(key="emb_n").value == 1000  # min(2000, test split of 1,000)
    assert at.radio(key="emb_method").value == "pca"
