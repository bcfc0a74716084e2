"""Latent grid: walk the 2-D code plane of a VAE (or of any model with a 2-D code). A grid of decoded
digits sits beside the map of the test digits' codes; a click on the map decodes that spot; below,
the plane decoded under the pointer as it moves, a VAE's q(z|x) for the drawing or a test digit, an
interpolation between two digits and samples from the prior."""
import numpy as np
import streamlit as st
import torch

from aecore.errors import AecoreError
from aecore.latent import (
    decode_codes,
    decode_grid,
    interpolate,
    latent_grid_points,
    posterior,
    sample_posterior,
    sample_prior,
)
from aecore.metrics import ACTIVE_UNIT_THRESHOLD, encode_images, vae_metrics
from aecore.models.vae import kl_per_dim
from aecore.spec import has_2d_code, lecture_spec
from app import controls, dataset_choice, figures, hover_plane, maps, resources, settings, words

SPACINGS = {"normal": "Normal quantiles (K&W)", "linear": "Linear", "data": "Fit the codes"}
METHODS = {"linear": "straight line", "slerp": "slerp (great circle)"}
N_SAMPLES = 32
N_POSTERIOR_SAMPLES = 8
SIDE = 280  # pixels of a digit shown large
MAP_HEIGHT = 440  # about the grid's side at 1280x720: both fit a projector's screen without scrolling

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)


@st.cache_data(show_spinner="Decoding the grid…", max_entries=32)
def grid_images(key: str, n: int, spacing: str, span: float, limit: float,
                box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray] | None:
    """(tiled grid image, the grid's codes (n*n, 2)) in display order: x right, y up."""
    stored = resources.stored_model(key)
    if stored is None:
        return None
    if spacing == "data":  # the codes' own box, each axis on its own scale
        x0, x1, y0, y1 = box
        codes = latent_grid_points(n, limits=(0.0, 1.0)) * [x1 - x0, y1 - y0] + [x0, y0]
        images = decode_codes(stored.model, codes.astype(np.float32))
    else:
        limits = (-limit, limit) if spacing == "linear" else None
        codes = latent_grid_points(n, span, limits=limits)
        images = decode_grid(stored.model, n, span, limits=limits).reshape(-1, 28, 28)
    return figures.tile(images, ncols=n, pad=0), codes


@st.cache_data(show_spinner=False, max_entries=16)
def prior_samples(key: str, n: int, seed: int) -> np.ndarray | None:
    stored = resources.stored_model(key)
    return None if stored is None else sample_prior(stored.model, n, seed)


@st.cache_data(show_spinner="Decoding the plane for the pointer…", max_entries=8)
def hover_atlas(key: str, codes: np.ndarray) -> tuple[bytes, tuple[float, float, float, float]] | None:
    """(the atlas as WebP bytes, the square view it covers) for the hover view, once per model."""
    stored = resources.stored_model(key)
    return None if stored is None else hover_plane.plane_atlas(stored.model, codes)


@st.cache_data(show_spinner="Measuring the KL of each code dimension…", max_entries=8)
def test_vae_metrics(key: str, dataset: str) -> dict | None:
    stored = resources.stored_model(key)
    return None if stored is None else vae_metrics(stored.model, resources.dataset(dataset).x_test)


def grid_controls(variational: bool) -> tuple[int, str, float, float]:
    """Grid side, spacing, normal-quantile span and linear range (URL: n, spacing, span, range)."""
    cols = st.columns([1, 1.4, 1], gap="medium")
    settings.init_from_query("lg_n", "n", 15, cast=int, lo=5, hi=30)
    n = cols[0].slider("Grid size", 5, 30, key="lg_n", help="n × n decoded digits")
    settings.init_from_query("lg_spacing", "spacing", "normal" if variational else "data", choices=list(SPACINGS))
    spacing = cols[1].radio("Spacing", list(SPACINGS), key="lg_spacing", format_func=SPACINGS.get, horizontal=True,
                            help=words.term("K&W quantiles") + " " + words.term("N(0, I)") +
                                 " Linear: evenly spaced codes in ±range. Fit the codes: the "
                                 "box holding 98% of the test codes, for models without a prior.")
    settings.init_from_query("lg_span", "span", 0.95, cast=float, lo=0.8, hi=0.99)
    settings.init_from_query("lg_range", "range", 3.0, cast=float, lo=0.5, hi=8.0)
    span, limit = st.session_state["lg_span"], st.session_state["lg_range"]
    if spacing == "normal":
        span = cols[2].slider("Quantiles covered", 0.8, 0.99, step=0.01, key="lg_span",
                              help="Each axis runs through the normal quantiles from 1 − q to q.")
    elif spacing == "linear":
        limit = cols[2].slider("Range ±", 0.5, 8.0, step=0.5, key="lg_range")
    settings.set_query(n=n, spacing=spacing, span=f"{span:g}", range=f"{limit:g}")
    return n, spacing, span, limit


def interpolation_state(n_test: int) -> tuple[int, int, bool, str, int]:
    """The interpolation settings, read before their widgets are drawn so the map can show the path."""
    default_from = int(np.flatnonzero(data.y_test == 1)[0]) if (data.y_test == 1).any() else 0
    default_to = int(np.flatnonzero(data.y_test == 0)[0]) if (data.y_test == 0).any() else n_test - 1
    settings.init_from_query("lg_from", "from", default_from, cast=int, lo=0, hi=n_test - 1)
    settings.init_from_query("lg_to", "to", default_to, cast=int, lo=0, hi=n_test - 1)
    settings.init_from_query("lg_method", "interp", "linear", choices=list(METHODS))
    settings.init_from_query("lg_steps", "steps", 10, cast=int, lo=8, hi=12)
    if "drawing" not in st.session_state:
        st.session_state["lg_use_drawing"] = False
    s = st.session_state
    return s["lg_from"], s["lg_to"], bool(s.get("lg_use_drawing")), s["lg_method"], s["lg_steps"]


def posterior_state(n_test: int) -> tuple[bool, int]:
    """(whether q(z|x) is shown for the drawing, the test digit shown otherwise), read before their
    widgets are drawn so the hover plane can ring that digit. The drawing is chosen once there is one."""
    default = int(np.flatnonzero(data.y_test == 3)[0]) if (data.y_test == 3).any() else 0
    settings.init_from_query("lg_q_digit", "qdigit", default, cast=int, lo=0, hi=n_test - 1)
    if "drawing" not in st.session_state:
        st.session_state["lg_q_mine"] = False
    elif "lg_q_mine" not in st.session_state or not st.session_state.get("lg_q_drawn"):
        st.session_state["lg_q_mine"] = True  # a drawing has just appeared: show it
    st.session_state["lg_q_drawn"] = "drawing" in st.session_state
    return bool(st.session_state["lg_q_mine"]), st.session_state["lg_q_digit"]


def _test_index(point: dict) -> int | None:
    c = point.get("customdata")
    c = c[0] if isinstance(c, (list, tuple)) and c else c
    return int(c) if isinstance(c, (int, float)) and c >= 0 else None  # the click layer carries -1


def picked(event, model_key: str) -> dict | None:
    """The spot chosen on the map: {z, idx (test digits picked), box}. Kept per session, because the
    map remounts (and forgets its selection) whenever its figure changes."""
    sel = event.selection if event is not None else None
    if sel and (sel.get("points") or sel.get("box") or sel.get("lasso")):
        points = sel.get("points") or []
        area = (sel.get("box") or sel.get("lasso") or [None])[0]
        if area is not None:  # a box or lasso: decode its centre, list the test digits inside
            z = [float(np.mean(area["x"])), float(np.mean(area["y"]))]
            idx = [i for i in map(_test_index, points) if i is not None]
        else:
            z = [float(points[-1]["x"]), float(points[-1]["y"])]
            idx = [i for i in [_test_index(points[-1])] if i is not None]
        st.session_state["lg_pick"] = {"model": model_key, "z": z, "idx": idx, "box": area is not None}
    pick = st.session_state.get("lg_pick")
    return pick if pick is not None and pick["model"] == model_key else None


st.title("Latent grid")
# One row, so the grid and the map fit a projector; the offer to train a model gets the full width.
picker_col, controls_col = st.columns([1.2, 3], gap="medium") if controls.trained_models(dataset_name, has_2d_code) \
    else (st.container(), st.container())
with picker_col:
    chosen = controls.model_picker(dataset_name, label="Model with a 2-D code",
                                   default=lecture_spec("vae", dataset_name), key="lg_model", accept=has_2d_code,
                                   why="The latent grid walks a model's 2-D code plane.")
if chosen is None:
    st.stop()
key, stored = chosen
model = stored.model
variational = model.is_variational
with controls_col:
    n, spacing, span, limit = grid_controls(variational)

try:
    _, codes = maps.test_codes(key, dataset_name, len(data.x_test), 0)
except AecoreError as e:  # deleted from the cache since the page was drawn
    st.error(str(e))
    st.stop()
my_digit = st.session_state.get("drawing")
drawing_code = encode_images(model, my_digit[None])[0] if my_digit is not None else None
i_from, i_to, use_drawing, method, steps = interpolation_state(len(codes))
start = drawing_code if use_drawing and drawing_code is not None else codes[i_from]
try:
    path = interpolate(start, codes[i_to], steps, method)
    grid = grid_images(key, n, spacing, span, limit, figures.robust_box(codes))
except AecoreError as e:
    st.error(str(e))
    st.stop()
image, grid_codes = grid


@st.fragment  # a click on the map reruns only this row
def plane_row():
    grid_col, map_col, pick_col = st.columns([4.5, 5.5, 2.2], gap="medium")
    with grid_col:
        scale = max(1, -(-600 // image.shape[0]))  # upscale small grids so pixels stay crisp
        st.image(figures.enlarge(image, scale), width="stretch", output_format="PNG")
        (gx0, gy0), (gx1, gy1) = grid_codes.min(axis=0), grid_codes.max(axis=0)
        st.caption(f"{n}×{n} decoded codes: z₁ from {gx0:.2f} (left) to {gx1:.2f} (right), "
                   f"z₂ from {gy0:.2f} (bottom) to {gy1:.2f} (top): the dashed box on the map.")
    with map_col:
        event = st.plotly_chart(figures.grid_map_figure(codes, data.y_test, data.class_names, grid_codes, path,
                                                        drawing_code, height=MAP_HEIGHT),
                                width="stretch", on_select="rerun", selection_mode=("points", "box", "lasso"),
                                key=f"lg_map_{key}")
        pick = picked(event, key)
        if pick is None:  # a caption under the wide map, not a hint box wrapping in the narrow column
            st.caption(":material/touch_app: Click the map (or drag a box) to decode that spot: "
                       "the digit appears to the right of the map.")
    with pick_col:
        if pick is None:
            return
        z = np.asarray(pick["z"], dtype=np.float32)
        st.image(figures.digit_image(decode_codes(model, z[None])[0], SIDE), width="stretch", output_format="PNG",
                 caption=f"decoded z = ({z[0]:.2f}, {z[1]:.2f})" + (" · centre of the box" if pick["box"] else ""))
        idx = pick["idx"]
        if idx and not pick["box"]:
            i = idx[0]
            st.image(figures.digit_image(data.x_test[i] / 255.0, SIDE // 2), output_format="PNG",
                     caption=f"test digit #{i} · {data.class_names[data.y_test[i]]}")
        elif idx:
            st.image(figures.tile(data.x_test[idx[:24]] / 255.0, ncols=6), width="stretch", output_format="PNG",
                     caption=f"{len(idx)} test digits in the box" + (" (first 24)" if len(idx) > 24 else ""))


plane_row()

q_mine, q_digit = posterior_state(len(codes)) if variational else (False, 0)
if variational:
    q_image = my_digit if q_mine and my_digit is not None else data.x_test[q_digit] / 255.0
    q_name = "your drawing" if q_mine and my_digit is not None else \
        f"test digit #{q_digit} · {data.class_names[data.y_test[q_digit]]}"
    q_mu, q_sigma = (v[0] for v in posterior(model, np.asarray(q_image, dtype=np.float32)[None]))

st.subheader("Decode under the pointer")
atlas = hover_atlas(key, codes)
if atlas is not None:
    webp, view = atlas
    atlas_url = resources.media_url(webp, "image/webp", "latent-grid-hover-atlas")  # not resent by each rerun
    mark = {"name": q_name, "mu": q_mu, "sigma": q_sigma} if variational else None
    st.iframe(hover_plane.plane_view_html(atlas_url, hover_plane.ATLAS_SIDE, view, codes, data.y_test,
                                                data.class_names, mark=mark, text_px=figures.text_px()),
              height=hover_plane.HEIGHT)
    side = hover_plane.ATLAS_SIDE
    st.caption(f"Move the pointer over the plane: on the right, the digit the decoder makes from the code under "
               f"it, redrawn in your browser from {side}×{side} codes decoded once (blended between the four "
               f"nearest). Dots: the test digits' codes, coloured by class."
               + (f" Star: μ of {q_name} (chosen below); rings: its 1σ and 2σ ellipses of q(z|x), zoomed in below."
                  if variational else ""))

if variational:
    st.subheader("How sure the encoder is: q(z|x) of one digit")
    cols = st.columns([1.4, 1, 1.6], gap="medium", vertical_alignment="bottom")  # the toggle's words fit at 1280
    cols[0].toggle("Show my drawing", key="lg_q_mine", disabled=my_digit is None,
                   help="Draw a digit on the Draw & reconstruct page first." if my_digit is None else None)
    cols[1].number_input("Test digit #", 0, len(codes) - 1, key="lg_q_digit", disabled=q_mine and my_digit is not None)
    settings.set_query(qdigit=q_digit)
    z_samples, decoded = sample_posterior(model, np.asarray(q_image, dtype=np.float32), N_POSTERIOR_SAMPLES)
    digit_col, plane_col, kl_col = st.columns([1.25, 1.3, 1.2], gap="medium")
    with digit_col:
        st.image(figures.digit_image(q_image, 140), width=140, output_format="PNG",
                 caption=f"{q_name}: μ = ({q_mu[0]:.2f}, {q_mu[1]:.2f}), σ = ({q_sigma[0]:.2f}, {q_sigma[1]:.2f})")
        st.image(figures.enlarge(figures.tile(decoded, ncols=4), 3), width="stretch", output_format="PNG",
                 caption=f"{N_POSTERIOR_SAMPLES} codes drawn from q(z|x) = N(μ, σ²) of {q_name}, decoded: how much "
                         "the digit varies within the encoder's uncertainty.")
    with plane_col:
        st.plotly_chart(figures.posterior_figure(codes, data.y_test, data.class_names, q_mu, q_sigma, z_samples,
                                                 height=360), width="stretch", key="lg_q_plane")
        st.caption(f"Zoomed in on μ (star): the 1σ (solid) and 2σ (dashed) ellipses of q(z|x), the "
                   f"{N_POSTERIOR_SAMPLES} sampled codes (red crosses), and test digits' codes nearby.")
    with kl_col:
        measured = test_vae_metrics(key, dataset_name)
        if measured is not None:
            kl_digit = kl_per_dim(torch.from_numpy(q_mu), torch.from_numpy(2 * np.log(q_sigma))).numpy()
            st.plotly_chart(figures.kl_bars(measured["kl_per_dim"], kl_digit, q_name, height=300),
                            width="stretch", key="lg_q_kl")
            st.markdown(f"**Active units: {measured['active_units']} of {model.code_dim}**")
            st.caption(f"KL of each code dimension from the N(0, 1) prior, in nats: the {len(data.x_test):,} test "
                       f"digits' mean and {q_name}'s. A unit is active when μ varies across the test digits "
                       f"(variance over {ACTIVE_UNIT_THRESHOLD}); an inactive one carries no information.")

st.subheader("Interpolate between two digits")
# The toggle on a row of its own: in a fifth column its words were cut off at 1280 with the sidebar open.
st.toggle("Start at my drawing", key="lg_use_drawing", disabled=my_digit is None,
          help="Draw a digit on the Draw & reconstruct page first." if my_digit is None else None)
cols = st.columns([1, 1, 1.3, 1.2], gap="medium")
cols[0].number_input("From test digit #", 0, len(codes) - 1, key="lg_from", disabled=use_drawing)
cols[1].number_input("To test digit #", 0, len(codes) - 1, key="lg_to")
cols[2].radio("Path", list(METHODS), key="lg_method", format_func=METHODS.get, horizontal=True,
              help=words.term("slerp") + " A straight line cuts through the prior's centre.")
cols[3].slider("Steps", 8, 12, key="lg_steps")
settings.set_query(**{"from": i_from, "to": i_to, "interp": method, "steps": steps})
strip = decode_codes(model, path)
start_image = my_digit if use_drawing and my_digit is not None else data.x_test[i_from] / 255.0
start_name = "your drawing" if use_drawing and my_digit is not None else \
    f"#{i_from} · {data.class_names[data.y_test[i_from]]}"
left, middle, right = st.columns([1, steps, 1], gap="small", vertical_alignment="center")
left.image(figures.digit_image(start_image, 112), caption=start_name, width="stretch", output_format="PNG")
middle.image(figures.enlarge(figures.tile(strip, ncols=steps, pad=2), 4), width="stretch", output_format="PNG",
             caption=f"decoded along the {METHODS[method]}; the black line on the map")
right.image(figures.digit_image(data.x_test[i_to] / 255.0, 112), width="stretch", output_format="PNG",
            caption=f"#{i_to} · {data.class_names[data.y_test[i_to]]}")

st.subheader("Samples from the prior")
if not variational:
    st.caption("This model has no prior to sample from: only a VAE learns a distribution over its codes.")
    st.stop()
settings.init_from_query("lg_seed", "seed", 0, cast=int, lo=0, hi=9999)


def _next_seed() -> None:
    st.session_state["lg_seed"] = (st.session_state["lg_seed"] + 1) % 10000


cols = st.columns([1, 1.5, 3.5], gap="medium", vertical_alignment="bottom")  # the button's words fit at 1280
seed = cols[0].number_input("Seed", 0, 9999, key="lg_seed")
cols[1].button("New samples", on_click=_next_seed, icon=":material/casino:", key="lg_new")
st.query_params["seed"] = str(seed)
samples = prior_samples(key, N_SAMPLES, seed)
if samples is not None:
    st.image(figures.enlarge(figures.tile(samples, ncols=16), 3), width="stretch", output_format="PNG",
             caption=f"{N_SAMPLES} codes drawn from N(0, I), the prior (a standard normal in each code "
                     "dimension), and decoded: new digits the model has never seen.")
