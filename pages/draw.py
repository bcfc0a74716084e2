"""Draw & reconstruct: draw a digit (or upload a photo of one) and watch several models rebuild it
after every stroke, with its code as bars; below, test digits masked by noise and reconstructed."""
import numpy as np
import streamlit as st

from aecore.data.user_images import MAX_IMAGE_BYTES
from aecore.errors import AecoreError
from aecore.spec import lecture_spec, lecture_specs
from app import canvas, controls, dataset_choice, drawing, figures, page_visits, resources, settings, training

CANVAS_SIDE = 252  # canvas pixels (9 × 28): fits its column in a 1024 px window with the sidebar open
STROKE = 16  # thick enough to look like MNIST ink after the 9x reduction
INPUT_SIDE = 112  # pixels of the "what the models see" pictures beside the canvas
MAX_MODELS = 5  # the lecture set, side by side
NOISE_NAMES = {"masking": "masking (pixels set to 0)", "gaussian": "Gaussian noise (σ)",
               "salt_pepper": "salt and pepper"}

dataset_name = dataset_choice.current_dataset()
GRID_DAE = lecture_spec("dae", dataset_name, level=0.3)  # the lecture's denoiser
if not page_visits.stayed_on_page():  # just came here: the canvas is mounted afresh, with the last drawing
    st.session_state["draw_canvas_initial"] = st.session_state.get("draw_canvas_json")


def _clear() -> None:
    # A new key mounts a fresh, empty canvas (and uploader); the old drawing is forgotten.
    st.session_state["draw_canvas_n"] = st.session_state.get("draw_canvas_n", 0) + 1
    for name in ("drawing", "draw_canvas_json", "draw_canvas_initial"):
        st.session_state.pop(name, None)


def canvas_drawing(result) -> np.ndarray | None:
    """The digit on the canvas, remembering the drawing so that a later visit shows it again."""
    sent = result.json_data if result is not None else None
    if sent is not None and sent.get("objects"):
        st.session_state["draw_canvas_json"] = sent
    elif sent is not None:  # emptied with the canvas's own toolbar
        st.session_state.pop("draw_canvas_json", None)
    digit = drawing.canvas_digit(result, CANVAS_SIDE)
    remounted = st.session_state.get("draw_canvas_initial") is not None and (sent is None or sent.get("objects"))
    if digit is None and remounted:  # a remounted canvas shows the kept drawing but sends no picture of it
        return st.session_state.get("drawing")
    return digit


def digit_controls():
    """The canvas, a Clear button and an upload box; returns the user's (28, 28) digit or None."""
    n = st.session_state.setdefault("draw_canvas_n", 0)
    result = canvas.digit_canvas(f"draw_canvas_{n}", CANVAS_SIDE, STROKE,
                                 initial_drawing=st.session_state.get("draw_canvas_initial"))
    st.button("Clear", on_click=_clear, icon=":material/ink_eraser:", key="draw_clear")
    with st.expander("…or upload a photo of a digit"):
        upload = st.file_uploader("Image", type=["png", "jpg", "jpeg"], key=f"draw_upload_{n}",
                                  max_upload_size=MAX_IMAGE_BYTES // 2**20, label_visibility="collapsed")
    try:
        if upload is not None:
            digit = drawing.upload_digit(upload.getvalue())
            if digit is None:
                st.warning("No digit found in that image.")
            else:
                st.caption("Using the uploaded image; remove it to draw again.")
            return digit
        return canvas_drawing(result)
    except AecoreError as e:  # the reason's first clause; the rest names decoder internals
        st.error(f"Could not use that image: {str(e).split(':')[0]}.")
        return None


def _models_picked() -> None:
    st.session_state["draw_models_picked"] = True


def _start_model_choice(keys: list[str]) -> None:
    """Every trained lecture model (else the newest model) until the user picks; then what they picked.
    A link's `models` counts as a pick."""
    lecture = [k for k in (resources.model_key(s) for s in lecture_specs(dataset_name)) if k in keys]
    default = (lecture or keys[:1])[:MAX_MODELS]
    if "draw_models_picked" not in st.session_state:  # once per session: the URL
        wanted = [k for k in st.query_params.get("models", "").split(",") if k in keys][:MAX_MODELS]
        st.session_state["draw_models_picked"] = bool(wanted)
        if wanted:
            settings.keep("draw_models", lambda: wanted)
    if not st.session_state["draw_models_picked"]:
        st.session_state["draw_models"] = default
    chosen = settings.keep("draw_models", lambda: default, lambda v: isinstance(v, list))
    if any(k not in keys for k in chosen):  # deleted meanwhile, or another dataset
        st.session_state["draw_models"] = [k for k in chosen if k in keys] or default
        settings.keep("draw_models", lambda: default)


def models_controls(rows: list[dict]) -> list[str]:
    """Which trained models to compare, side by side (kept in the URL as `models`)."""
    names = drawing.model_names(rows)
    _start_model_choice(list(names))
    chosen = st.multiselect("Models", list(names), key="draw_models", max_selections=MAX_MODELS,
                            format_func=names.get, on_change=_models_picked)
    st.query_params["models"] = ",".join(chosen)
    return chosen


def corruption_controls(default_level: float) -> tuple[str, float]:
    """Noise applied to the drawing before every model sees it (URL: `dkind`, `dlevel`)."""
    kind_col, level_col, _ = st.columns([1, 1, 1], gap="medium")
    return controls.corruption_controls(
        kind_col, level_col, key="draw", param="d", default_kind="masking", default_level=default_level,
        level_help="Every model gets the same corrupted drawing: a denoising autoencoder should still give "
                   "back a clean digit.")


def reconstructions(rows: list[dict], chosen: list[str], noisy: np.ndarray | None) -> None:
    """Each chosen model's reconstruction of the (corrupted) drawing, with its code as bars."""
    if not rows:
        st.info("Reconstructions appear here once the lecture's denoising autoencoder is trained (below).",
                icon=":material/hourglass_top:")
        return
    if not chosen:
        st.info("Pick one or more models to compare.")
        return
    if noisy is None:
        st.info("Draw a digit on the black square, with the mouse or a finger: each model's "
                "reconstruction and code appear here.", icon=":material/draw:")
        return
    names = drawing.model_names(rows)
    for col, key in zip(st.columns(max(len(chosen), 3), gap="small"), chosen):
        with col:
            st.markdown(f"**{names[key]}**")
            out = drawing.respond(key, noisy)
            if out is None:
                st.error("This model could not be loaded.")
                continue
            recon, code = out
            st.image(figures.inline_png(recon), width="stretch")
            st.image(figures.inline_png(figures.code_bars(code)), width="stretch",
                     caption=f"code · {len(code)} units · largest |value| {np.abs(code).max():.2g}")
            if len(code) == 2:  # a drawn 7 may come back as a 9
                st.caption("A 2-D code keeps only the digit's rough shape.")


@st.fragment  # a stroke reruns only this panel, not the test grid below
def drawing_panel() -> None:
    rows = drawing.trained_models(dataset_name)
    # The chips get the full width, so four lecture models' names stay readable at 1280 px.
    chosen = models_controls(rows) if rows else []
    # Start with the noise the lecture dae was trained on, whatever is picked when the page first draws.
    kind, level = corruption_controls(GRID_DAE.model.level)
    st.space("small")  # room for the canvas toolbar, which floats above the canvas
    noisy = None
    with st.container(horizontal=True, gap="medium"):
        with st.container(width=CANVAS_SIDE):
            digit = digit_controls()
        with st.container(width=INPUT_SIDE):
            if digit is None:
                st.session_state.pop("drawing", None)
            else:
                st.session_state["drawing"] = digit  # the Latent grid and Embeddings pages use it too
                st.image(figures.inline_png(digit), width="stretch", caption="What the models see: 28×28")
                noisy = drawing.corrupt_digit(digit, kind, level) if level > 0 else digit
                if level > 0:
                    st.image(figures.inline_png(noisy), width="stretch",
                             caption=f"Corrupted: {NOISE_NAMES[kind]}, {level:g}")
        with st.container():
            reconstructions(rows, chosen, noisy)


def grid_controls(rows: list[dict]) -> tuple[str, float]:
    """The test grid's model (URL: `gmodel`, the lecture dae by default) and masking noise (`gnoise`)."""
    keys = [r["key"] for r in rows]
    names = drawing.model_names(rows)
    dae = resources.model_key(GRID_DAE)
    settings.init_from_query("draw_grid_model", "gmodel", dae if dae in keys else keys[0], choices=keys)
    if st.session_state["draw_grid_model"] not in keys:  # deleted meanwhile, or another dataset
        st.session_state["draw_grid_model"] = keys[0]
    left, right = st.columns([2, 1], gap="large")
    key = left.selectbox("Model", keys, key="draw_grid_model", format_func=names.get)
    settings.init_from_query("draw_grid_noise", "gnoise", 0.3, cast=float, lo=0.0, hi=0.9)
    noise = right.slider("Masking noise", 0.0, 0.9, step=0.05, key="draw_grid_noise",
                         help="Fraction of each test digit's pixels set to 0 before the model sees it.")
    settings.set_query(gmodel=key, gnoise=f"{noise:g}")
    return key, noise


st.title("Draw & reconstruct")
drawing_panel()

st.divider()
st.subheader("Test digits, masked and reconstructed")
rows = drawing.trained_models(dataset_name)
if resources.model_key(GRID_DAE) not in {r["key"] for r in rows} and \
        settings.kept_value("draw_grid_model") not in {r["key"] for r in rows}:
    stored = training.ensure_trained(GRID_DAE, why="The grid shows how the lecture's denoising autoencoder "
                                                   "rebuilds masked digits.", key="draw-grid-train")
    job = resources.registry().get(resources.model_key(GRID_DAE))
    if stored is None and (not rows or (job is not None and not job.done)):
        st.stop()
    rows = drawing.trained_models(dataset_name)
key, noise = grid_controls(rows)
views = drawing.test_reconstructions(key, dataset_name, noise)
if views is None:
    st.error("That model could not be loaded.")
    st.stop()
bands = [("clean", "Test digits")] + ([("noisy", f"Masked: {noise:.0%} of pixels set to 0")] if noise > 0 else []) + \
        [("recon", "Reconstructions")]
for band, caption in bands:
    st.image(figures.enlarge(figures.tile(views[band], ncols=len(views[band])), 3),
             caption=caption, width="stretch", output_format="PNG")
