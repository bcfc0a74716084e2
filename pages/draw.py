"""Draw & reconstruct: draw a digit (or upload a photo of one) and watch several models rebuild it
after every stroke, with its code as bars; below, test digits masked by noise and reconstructed."""
import numpy as np
import streamlit as st

from aecore.configs import CORRUPTIONS
from aecore.data.user_images import MAX_IMAGE_BYTES
from aecore.errors import AecoreError
from aecore.spec import lecture_specs, make_spec
from app import canvas, dataset_choice, drawing, figures, resources, settings, training

CANVAS_SIDE = 280  # canvas pixels; the digit is normalised down to 28x28 anyway
STROKE = 18  # thick enough to look like MNIST ink after the 10x reduction
MAX_MODELS = 5  # the lecture set, side by side
NOISE_NAMES = {"masking": "masking (pixels set to 0)", "gaussian": "Gaussian noise (σ)",
               "salt_pepper": "salt and pepper"}

dataset_name = dataset_choice.current_dataset()


def _clear() -> None:
    # A new key mounts a fresh, empty canvas (and uploader); the old drawing is forgotten.
    st.session_state["draw_canvas_n"] = st.session_state.get("draw_canvas_n", 0) + 1
    st.session_state.pop("drawing", None)


def digit_controls():
    """The canvas, a Clear button and an upload box; returns the user's (28, 28) digit or None."""
    n = st.session_state.setdefault("draw_canvas_n", 0)
    result = canvas.digit_canvas(f"draw_canvas_{n}", CANVAS_SIDE, STROKE)
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
        return drawing.canvas_digit(result, CANVAS_SIDE)
    except AecoreError as e:  # the reason's first clause; the rest names decoder internals
        st.error(f"Could not use that image: {str(e).split(':')[0]}.")
        return None


def _start_model_choice(keys: list[str]) -> None:
    """Start the model choice from the URL (`models`), else the trained lecture set, else the newest."""
    if st.session_state.get("draw_models_data") != dataset_name:  # first visit, or another dataset
        st.session_state["draw_models_data"] = dataset_name
        wanted = [k for k in st.query_params.get("models", "").split(",") if k in keys]
        lecture = [k for k in (resources.model_key(s) for s in lecture_specs(dataset_name)) if k in keys]
        st.session_state["draw_models"] = (wanted or lecture or keys[:1])[:MAX_MODELS]
    elif any(k not in keys for k in st.session_state.get("draw_models", [])):  # deleted meanwhile
        st.session_state["draw_models"] = [k for k in st.session_state["draw_models"] if k in keys]


def models_controls(rows: list[dict]) -> list[str]:
    """Which trained models to compare, side by side (kept in the URL as `models`)."""
    names = drawing.model_names(rows)
    chosen = st.multiselect("Models", list(names), key="draw_models", max_selections=MAX_MODELS,
                            format_func=names.get)
    st.query_params["models"] = ",".join(chosen)
    return chosen


def corruption_controls(default_level: float) -> tuple[str, float]:
    """Noise applied to the drawing before every model sees it (URL: `dkind`, `dlevel`)."""
    settings.init_from_query("draw_kind", "dkind", "masking", choices=CORRUPTIONS)
    settings.init_from_query("draw_level", "dlevel", default_level, cast=float, lo=0.0, hi=0.9)
    kind = st.selectbox("Corruption", CORRUPTIONS, key="draw_kind", format_func=NOISE_NAMES.get)
    level = st.slider("Corruption level", 0.0, 0.9, step=0.05, key="draw_level",
                      help="Every model gets the same corrupted drawing: a denoising autoencoder "
                           "should still give back a clean digit.")
    settings.set_query(dkind=kind, dlevel=f"{level:g}")
    return kind, level


@st.fragment  # a stroke reruns only this panel, not the test grid below
def drawing_panel() -> None:
    rows = drawing.trained_models(dataset_name)
    families = {r["key"]: r["spec"]["family"] for r in rows}
    _start_model_choice(list(families))
    st.space("small")  # room for the canvas toolbar, which floats above the canvas
    canvas_col, input_col, noisy_col, settings_col = st.columns([1.3, 1, 1, 1.2], gap="medium")
    with settings_col:
        # Start with the noise the lecture dae was trained on when a dae is in the comparison.
        has_dae = any(families.get(k) == "dae" for k in st.session_state.get("draw_models", []))
        kind, level = corruption_controls(0.3 if has_dae else 0.0)
    with canvas_col:
        digit = digit_controls()
    if digit is None:
        st.session_state.pop("drawing", None)
        input_col.info("Draw a digit on the black square, with the mouse or a finger.", icon=":material/draw:")
        noisy = None
    else:
        st.session_state["drawing"] = digit  # the Latent grid and Embeddings pages use it too
        input_col.image(figures.inline_png(digit), width="stretch",
                        caption="What the models see: 28×28, MNIST-normalised")
        noisy = drawing.corrupt_digit(digit, kind, level) if level > 0 else digit
        if level > 0:
            noisy_col.image(figures.inline_png(noisy), width="stretch",
                            caption=f"Corrupted: {NOISE_NAMES[kind]}, {level:g}")

    if not rows:
        training.train_offer(make_spec("ae", dataset_name), key="offer-draw",
                             why="Reconstructions need a trained model.")
        return
    st.subheader("Reconstructions and codes")
    chosen = models_controls(rows)
    if not chosen:
        st.info("Pick one or more models to compare.")
        return
    if noisy is None:
        return
    names = drawing.model_names(rows)
    for col, key in zip(st.columns(max(len(chosen), 3), gap="medium"), chosen):
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


def grid_controls(rows: list[dict]) -> tuple[str, float]:
    """The test grid's model (URL: `gmodel`, the lecture dae by default) and masking noise (`gnoise`)."""
    keys = [r["key"] for r in rows]
    names = drawing.model_names(rows)
    dae = resources.model_key(make_spec("dae", dataset_name))
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
if not rows:
    st.caption("Train a model above to see how it reconstructs the test digits.")
    st.stop()
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
