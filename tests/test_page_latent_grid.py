"""The Latent grid page under Streamlit's AppTest: it offers its VAE before anything is trained, shows
the grid, map, interpolation and prior samples for a 2-D model, and keeps its settings in the URL."""
from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from aecore.data import load_dataset
from aecore.runs import get_or_train
from aecore.spec import lecture_spec, make_spec
from app import resources
from tests.apptest import open_page

PAGE = "latent_grid.py"
DATA = "mnist-sample"


def images(at: AppTest) -> dict[str, str]:
    """Caption -> media URL of every image; the URL is a hash of the picture's bytes."""
    return {caption: url for img in at.get("image") for caption, url in zip(img.captions, img.value)}


def grid_url(at: AppTest) -> str:
    return at.get("image")[0].value[0]  # the grid comes first on the page


def test_offers_its_vae_with_how_long_it_takes_where_training_is_slow(fresh_app, ask_before_training):
    get_or_train(make_spec("ae", DATA, hidden=(32, 8), epochs=1))  # an 8-D code: not walkable here
    at = open_page(PAGE)
    assert any("takes about" in i.value for i in at.info)
    assert at.title[0].value == "Latent grid"
    assert any("vae 256 z2 (keras-vae-mlp)" in i.value for i in at.info)
    assert any(b.label == "Train vae 256 z2 (keras-vae-mlp) now" for b in at.button)
    assert not at.get("image")


def test_trains_its_vae_at_once_on_the_sample(fresh_app):
    at = open_page(PAGE)
    assert any("Training **vae 256 z2 (keras-vae-mlp)** now" in c.value for c in at.caption)
    assert not at.button or not any(b.label == "Train vae 256 z2 (keras-vae-mlp) now" for b in at.button)
    job = resources.registry().get(resources.model_key(lecture_spec("vae", DATA)))
    assert job is not None, "the page started the shared job"


def test_vae_grid_map_interpolation_and_samples(fresh_app, ask_before_training):
    stored, _ = get_or_train(make_spec("vae", DATA, hidden=(64,), latent=2, epochs=1))
    at = open_page(PAGE)
    assert at.selectbox(key="lg_model").value == stored.key
    assert at.slider(key="lg_n").value == 15
    assert at.radio(key="lg_spacing").value == "normal"
    assert [c.key for c in at.get("plotly_chart")][1:] == ["lg_q_plane", "lg_q_kl"], "the map, q(z|x) and the KL"
    shown = images(at)
    assert any(c.startswith("decoded along the straight line") for c in shown)
    assert any(c.startswith("32 codes drawn from N(0, I), the prior") for c in shown)
    assert at.query_params["model"] == stored.key
    assert [h.value for h in at.subheader][:2] == ["Decode under the pointer",
                                                   "How sure the encoder is: q(z|x) of one digit"]
    hover = at.get("iframe")
    assert len(hover) == 1 and "window.hoverDraws" in hover[0].proto.srcdoc, "the hover view's page"
    first = at.number_input(key="lg_q_digit").value
    assert any(c.startswith(f"8 codes drawn from q(z|x) = N(μ, σ²) of test digit #{first} ·") for c in shown)
    assert any(m.value == "**Active units: 2 of 2**" for m in at.markdown)
    mu_caption = next(c for c in shown if c.startswith(f"test digit #{first} ·"))
    at.number_input(key="lg_q_digit").set_value(first + 1).run()
    assert at.query_params["qdigit"] == str(first + 1)
    assert next(c for c in images(at) if c.startswith(f"test digit #{first + 1} ·")).split(":")[1] != \
        mu_caption.split(":")[1], "another digit, another μ and σ"

    before = grid_url(at)
    at.slider(key="lg_n").set_value(8).run()
    assert at.query_params["n"] == "8"
    assert grid_url(at) != before
    assert any(c.startswith("8×8 decoded codes") for c in at.caption.values)

    at.radio(key="lg_spacing").set_value("linear").run()
    assert at.slider(key="lg_range").value == 3.0
    assert any("z₁ from -3.00 (left) to 3.00 (right)" in c for c in at.caption.values)
    assert at.query_params["spacing"] == "linear"

    samples = next(v for c, v in images(at).items() if c.startswith("32 codes drawn from N(0, I)"))
    at.button(key="lg_new").click().run()
    assert at.number_input(key="lg_seed").value == 1
    assert next(v for c, v in images(at).items() if c.startswith("32 codes drawn from N(0, I)")) != samples

    at.radio(key="lg_method").set_value("slerp").run()
    assert any(c.startswith("decoded along the slerp") for c in images(at))
    at.number_input(key="lg_to").set_value(5).run()
    assert f"#5 · {load_dataset(DATA).y_test[5]}" in images(at), "the end of the strip is test digit #5"
    assert at.query_params["to"] == "5"


def test_settings_come_from_the_url_and_bad_values_are_ignored(fresh_app, ask_before_training):
    get_or_train(make_spec("vae", DATA, hidden=(64,), latent=2, epochs=1))
    at = open_page(PAGE, {"n": "12", "spacing": "linear", "range": "2.5", "steps": "99", "model": "../../etc"})
    assert at.slider(key="lg_n").value == 12
    assert at.radio(key="lg_spacing").value == "linear"
    assert at.slider(key="lg_range").value == 2.5
    assert at.slider(key="lg_steps").value == 10, "out of range: the default"


def test_a_plain_autoencoder_with_a_2d_code_is_walked_over_its_codes(fresh_app, ask_before_training):
    get_or_train(make_spec("ae", DATA, hidden=(32, 2), epochs=1))
    at = open_page(PAGE)
    assert at.radio(key="lg_spacing").value == "data", "no prior: the grid spans the codes"
    assert any("no prior to sample from" in c for c in at.caption.values)
    assert [h.value for h in at.subheader][0] == "Decode under the pointer", "a plane to hover over, no q(z|x)"
    assert not any(h.value.startswith("How sure the encoder is") for h in at.subheader)
    assert not any(b.label == "New samples" for b in at.button)


def test_the_drawing_from_the_draw_page_joins_the_map_and_the_interpolation(fresh_app, ask_before_training):
    get_or_train(make_spec("vae", DATA, hidden=(64,), latent=2, epochs=1))
    at = open_page(PAGE)
    assert at.toggle(key="lg_use_drawing").disabled, "nothing drawn yet"
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 13:16] = 1.0
    at.session_state["drawing"] = digit
    at.run()
    toggle = at.toggle(key="lg_use_drawing")
    assert not toggle.disabled
    toggle.set_value(True).run()
    assert "your drawing" in images(at)
    assert at.number_input(key="lg_from").disabled
    assert '"your drawing"' in at.get("plotly_chart")[0].proto.spec, "the drawing is starred on the map"
    assert at.toggle(key="lg_q_mine").value, "q(z|x) is shown for the drawing once there is one"
    assert any(c.startswith("your drawing: μ = (") for c in images(at))
    assert at.number_input(key="lg_q_digit").disabled


def test_small_maps_are_svg_and_large_ones_webgl():
    """The plotly map (this page's, and the Train page's replay): a new chart is a fresh mount, and below
    SVG_MAX_POINTS SVG mounts faster than a WebGL context."""
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


def test_the_grid_map_keeps_its_axes_on_the_codes_in_a_narrow_column():
    """One scale on both axes must shrink the plot, not stretch an axis past the codes (at 1280 px the
    z2 axis ran -10..10 around codes within ±4), and the legend must not take the plot's width."""
    from app.figures import grid_map_figure

    codes = np.random.default_rng(0).normal(size=(200, 2))
    grid = np.array([[-1.6, -1.6], [1.6, 1.6]])
    fig = grid_map_figure(codes, np.arange(200) % 10, [str(c) for c in range(10)], grid,
                          drawing_code=np.zeros(2))
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.constrain == fig.layout.yaxis.constrain == "domain"
    assert fig.layout.legend.orientation == "h"
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert -5 < axis.range[0] < -1.6 and 1.6 < axis.range[1] < 5
