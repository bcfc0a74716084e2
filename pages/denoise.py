"""Denoising: corrupt a digit (your drawing, or a test digit) and a row of test digits, and compare a plain
and a denoising autoencoder side by side: the corrupted input, each reconstruction, the clean target and
each reconstruction's per-pixel error, with each model's mean error over the test digits."""
import numpy as np
import streamlit as st

from aecore.denoising import corrupt_images, denoise
from aecore.spec import lecture_spec
from aecore.store import StoredModel
from app import controls, dataset_choice, drawing, figures, resources, words

KINDS = controls.CORRUPTION_NAMES
WHAT_KIND_DOES = {"masking": "{:.0%} of the pixels set to 0", "gaussian": "Gaussian noise of σ = {:g} added",
                  "salt_pepper": "{:.0%} of the pixels set to 0 or 1"}
SIDE = 140  # pixels of each picture of the one-digit row: six fit a 1280-pixel screen with the sidebar open

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
PLAIN = lecture_spec("dae", dataset_name, level=0.0)  # the dA recipe without corruption: a plain autoencoder
DENOISER = lecture_spec("dae", dataset_name, level=0.3)  # the same network trained on 30% masked digits


def noise_controls(kind_col, level_col) -> tuple[str, float]:
    """Corruption kind and level (URL: `nkind`, `nlevel`), starting at what the denoiser trained on."""
    return controls.corruption_controls(
        kind_col, level_col, key="dn", param="n", default_kind=DENOISER.model.corruption,
        default_level=DENOISER.model.level,
        level_help="The same seeded noise every time: move the slider back and the picture comes back too.")


def trained_on(model) -> str:
    """How `model` was trained, in a few words."""
    level = getattr(model.cfg, "level", 0.0)
    return f"trained on {KINDS[model.cfg.corruption]} {level:g}" if level > 0 else "trained on clean digits"


def model_controls(cols) -> list[tuple[str, StoredModel, str]] | None:
    """The plain and the denoising model (URL: `plain`, `denoiser`), one in each of `cols`; [(key, the
    stored model, title)], or None while one of them is still training."""
    picked = []
    for col, (label, default, key, param) in zip(cols, (
            ("Plain model", PLAIN, "dn_plain", "plain"), ("Denoising model", DENOISER, "dn_denoiser", "denoiser"))):
        with col:
            picked.append(controls.model_picker(dataset_name, label=label, default=default, key=key, param=param,
                                                why="The comparison needs both."))
    if any(p is None for p in picked):
        return None
    return [(key, stored, title) for (key, stored), title in zip(picked, ("Plain", "Denoising"))]


def picture(image: np.ndarray, caption: str, error: bool = False) -> None:
    """One 28×28 digit (or error map, framed), large and crisp."""
    large = figures.digit_image(image, SIDE)
    shown = figures.error_picture(np.pad(large, 2, constant_values=-1)) if error else large
    st.image(figures.inline_png(shown), caption=caption, width="stretch")


def band(images: np.ndarray, caption: str, error: bool = False) -> None:
    """A row of 28×28 digits (or framed error maps) across the page."""
    tiled = figures.tile(images, ncols=len(images), pad=1 if error else 2, pad_value=-1.0 if error else 1.0)
    shown = figures.error_picture(np.kron(tiled, np.ones((3, 3)))) if error else figures.enlarge(tiled, 3)
    st.image(shown, caption=caption, width="stretch", output_format="PNG")


st.title("Denoising")
st.markdown("A **denoising autoencoder** learned to rebuild clean digits from corrupted ones; a plain one only "
            "learned to copy. Corrupt a digit and compare what each gives back.", help=words.term("corruption"))
if all(resources.model_status(spec)[1] == "ready" for spec in (PLAIN, DENOISER)):  # one row, to fit a projector
    kind_col, level_col, *model_cols = st.columns([1, 1.2, 1.5, 1.5], gap="medium")
else:  # a training's progress and live charts get half the page each
    kind_col, level_col = st.columns(2, gap="large")
    model_cols = st.columns(2, gap="large")
kind, level = noise_controls(kind_col, level_col)
models = model_controls(model_cols)
if models is None:
    st.stop()
noise_words = WHAT_KIND_DOES[kind].format(level) if level > 0 else "no corruption"
ERROR_MEANS = "error maps: white = right, dark red = wrong by the whole range"
views = [(stored, title, drawing.test_denoising(key, dataset_name, kind, level)) for key, stored, title in models]
if any(v is None for *_, v in views):
    st.error("A model could not be loaded; pick another.")
    st.stop()

(_, _, (_, plain_error)), (denoiser, _, (_, denoiser_error)) = views
trained_kind = KINDS.get(getattr(denoiser.model.cfg, "corruption", ""))
st.markdown(words.denoising_verdict(plain_error, denoiser_error, KINDS[kind] if level > 0 else None, trained_kind))

# ---- one digit: the user's drawing, else a test digit -----------------------------------------------
groups = st.columns(3, gap="medium")
with groups[0]:
    st.markdown("**The digit**")
    target_col, input_col = st.columns(2, gap="small")
    digit, name = drawing.drawing_or_test_digit(dataset_name, "dn_digit", "ndigit")  # under the pictures
clean = np.asarray(digit, dtype=np.float32)[None]  # (1, 28, 28)
noisy = corrupt_images(clean, kind, level)
with target_col:
    picture(clean[0], f"clean target: {name[0].lower()}{name[1:]}")
with input_col:
    picture(noisy[0], f"corrupted: {noise_words}")
for group, (stored, title, (_, test_error)) in zip(groups[1:], views):
    out = denoise(stored.model, clean, kind, level, noisy=noisy)
    with group:
        st.markdown(f"**{title}** — {trained_on(stored.model)}")
        recon_col, error_col = st.columns(2, gap="small")
        with recon_col:
            picture(out.recon[0], "rebuilt")
        with error_col:
            picture(out.error[0], f"error map: {out.squared_error[0]:.4f}", error=True)
        st.markdown(f"All {len(data.x_test):,} test digits: **{test_error:.4f}**")
st.caption(f"Both models see the same corrupted input. In the {ERROR_MEANS}. Each number is the mean squared "
           "error per pixel against the clean target (lower is better).")

# ---- test digits ---------------------------------------------------------------------------------
st.subheader("Test digits, one of each class")
strip = views[0][2][0]
band(strip.clean, "Clean targets")
band(strip.noisy, f"Corrupted inputs: {noise_words}")
for _, title, (shown, test_error) in views:
    band(shown.recon, f"{title} model: rebuilt")
    band(shown.error, f"{title} model: error maps (mean squared error over all {len(data.x_test):,} test "
                      f"digits {test_error:.4f})", error=True)
