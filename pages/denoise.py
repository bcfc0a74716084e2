"""Denoising: corrupt a digit (your drawing, or a test digit) and a row of test digits, and compare a plain
and a denoising autoencoder side by side: the corrupted input, each reconstruction, the clean target and
each reconstruction's per-pixel error, with each model's mean error over the test digits."""
import numpy as np
import streamlit as st

from aecore.configs import CORRUPTIONS
from aecore.denoising import corrupt_images, denoise
from aecore.spec import lecture_spec
from app import controls, dataset_choice, drawing, figures, navigation, resources, settings, words

KINDS = {"masking": "masking", "gaussian": "Gaussian noise", "salt_pepper": "salt and pepper"}
WHAT_KIND_DOES = {"masking": "{:.0%} of the pixels set to 0", "gaussian": "Gaussian noise of σ = {:g} added",
                  "salt_pepper": "{:.0%} of the pixels set to 0 or 1"}
SIDE = 140  # pixels of each picture of the one-digit row: six fit a 1280-pixel screen with the sidebar open

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
PLAIN = lecture_spec("dae", dataset_name, level=0.0)  # the dA recipe without corruption: a plain autoencoder
DENOISER = lecture_spec("dae", dataset_name, level=0.3)  # the same network trained on 30% masked digits


def noise_controls() -> tuple[str, float]:
    """Corruption kind and level (URL: `nkind`, `nlevel`), starting at what the denoiser trained on."""
    settings.init_from_query("dn_kind", "nkind", DENOISER.model.corruption, choices=CORRUPTIONS)
    settings.init_from_query("dn_level", "nlevel", DENOISER.model.level, cast=float, lo=0.0, hi=0.9)
    kind_col, level_col = st.columns(2, gap="large")
    kind = kind_col.selectbox("Corruption", CORRUPTIONS, key="dn_kind", format_func=KINDS.get,
                              help="Masking sets a fraction of the pixels to 0; Gaussian noise adds noise of "
                                   "that σ; salt and pepper sets that fraction of pixels to 0 or 1.")
    level = level_col.slider("Corruption level", 0.0, 0.9, step=0.05, key="dn_level",
                             help="The same seeded noise every time: move the slider back and the picture "
                                  "comes back too.")
    settings.set_query(nkind=kind, nlevel=f"{level:g}")
    return kind, level


def trained_on(key: str) -> str:
    """How the model stored under `key` was trained, in a few words."""
    model = resources.stored_model(key).model
    level = getattr(model.cfg, "level", 0.0)
    return f"trained on {KINDS[model.cfg.corruption]} {level:g}" if level > 0 else "trained on clean digits"


def model_controls() -> list[tuple[str, str]] | None:
    """The plain and the denoising model (URL: `plain`, `denoiser`); [(key, title)], or None while one
    of them is still training."""
    picked = []
    for col, (title, default, key, param) in zip(st.columns(2, gap="large"), (
            ("Plain autoencoder", PLAIN, "dn_plain", "plain"),
            ("Denoising autoencoder", DENOISER, "dn_denoiser", "denoiser"))):
        with col:
            picked.append(controls.model_picker(dataset_name, label=title, default=default, key=key, param=param,
                                                why="The comparison needs both."))
    if any(p is None for p in picked):
        return None
    return [(key, title) for (key, _), title in zip(picked, ("Plain", "Denoising"))]


def probe_digit() -> tuple[np.ndarray, str]:
    """The user's drawing, else a test digit they pick (offering the Draw page): ((28, 28), its name)."""
    digit = st.session_state.get("drawing")  # the Draw page keeps it for every page
    if digit is not None:
        return digit, "your drawing"
    text_col, link_col, digit_col = st.columns([3, 1, 1], vertical_alignment="center")
    text_col.markdown("No drawing yet: draw a digit and it is corrupted here too. Meanwhile, a test digit.")
    link_col.page_link(navigation.page("draw.py"), label="Draw a digit", icon=":material/draw:")
    settings.init_from_query("dn_digit", "ndigit", 0, cast=int, lo=0, hi=len(data.x_test) - 1)
    index = digit_col.number_input("Test digit #", 0, len(data.x_test) - 1, step=1, key="dn_digit")
    settings.set_query(ndigit=index)
    return data.x_test[index] / 255.0, f"test digit #{index}"


def picture(image: np.ndarray, caption: str, error: bool = False) -> None:
    """One 28×28 digit (or error map), large and crisp."""
    shown = figures.error_picture(figures.digit_image(image, SIDE)) if error else figures.digit_image(image, SIDE)
    st.image(figures.inline_png(shown), caption=caption, width="stretch")


def band(images: np.ndarray, caption: str, error: bool = False) -> None:
    """A row of 28×28 digits (or error maps) across the page."""
    tiled = figures.enlarge(figures.tile(images, ncols=len(images), pad_value=0.0 if error else 1.0), 3)
    st.image(figures.error_picture(tiled) if error else tiled, caption=caption, width="stretch", output_format="PNG")


st.title("Denoising")
st.markdown("A **denoising autoencoder** is trained to rebuild the clean digit from a corrupted copy; a plain one "
            "only learned to copy clean digits. Corrupt a digit and compare what each gives back.",
            help=words.term("corruption"))
kind, level = noise_controls()
models = model_controls()
if models is None:
    st.stop()
noise_words = WHAT_KIND_DOES[kind].format(level) if level > 0 else "no corruption"
ERROR_MEANS = "error per pixel: white = right, dark red = wrong by the whole range"

# ---- one digit: the user's drawing, else a test digit -----------------------------------------------
st.subheader("One digit, corrupted and rebuilt")
digit, name = probe_digit()
clean = np.asarray(digit, dtype=np.float32)[None]  # (1, 28, 28)
noisy = corrupt_images(clean, kind, level)
cols = st.columns(6, gap="small")
with cols[0]:
    picture(clean[0], f"Clean target: {name}")
with cols[1]:
    picture(noisy[0], f"Corrupted input: {noise_words}")
for (key, title), (recon_col, error_col) in zip(models, (cols[2:4], cols[4:6])):
    out = denoise(resources.stored_model(key).model, clean, kind, level, noisy=noisy)
    with recon_col:
        picture(out.recon[0], f"{title} ({trained_on(key)}): rebuilt")
    with error_col:
        picture(out.error[0], f"{title}: error {out.squared_error[0]:.4f}", error=True)
st.caption(f"Each model sees the same corrupted input. Error maps show the {ERROR_MEANS}; each error number is "
           "the mean squared error per pixel against the clean target (lower is better).")

# ---- test digits ---------------------------------------------------------------------------------
st.subheader("Test digits")
views = [(title, drawing.test_denoising(key, dataset_name, kind, level)) for key, title in models]
if any(v is None for _, v in views):
    st.error("A model could not be loaded; pick another.")
    st.stop()
errors = [(title, error) for title, (_, error) in views]
st.markdown(f"Mean squared error per pixel over all {len(data.x_test):,} test digits, {noise_words}: " +
            " · ".join(f"**{title} {error:.4f}**" for title, error in errors))
strip = views[0][1][0]
band(strip.clean, "Clean targets")
band(strip.noisy, f"Corrupted inputs: {noise_words}")
for title, (shown, error) in views:
    band(shown.recon, f"{title} autoencoder: rebuilt")
    band(shown.error, f"{title} autoencoder: {ERROR_MEANS} (mean squared error over the test digits {error:.4f})",
         error=True)
