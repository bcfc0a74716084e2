"""Lesson 2, Denoising: what masking pixels in training teaches a denoising autoencoder's filters, and
what the dA tutorial's mistyped initialisation does to training (source 000: the deeplearning.net dA
tutorial, its recipe at corruption 0 and 0.3 and its mistyped variant)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from aecore.denoising import corrupt_images, denoise, denoising_error
from aecore.filters import picture_correlation
from aecore.metrics import reconstruct_images
from aecore.recipes import RECIPES
from aecore.spec import lecture_spec
from app import exports, figures, maps, resources, words
from app.lessons.lesson import Lesson, Predict, Step, StepContext

NOISY = 0.5  # the noisy 3's masking: more than either model trained on, so the difference shows
N_FILTERS = 100  # the tutorial's figure
PLAIN, DENOISING = "Trained on clean digits (corruption 0)", "Trained on masked digits (corruption 0.3)"
SAME, SEVERAL, HUGE = "About the same (under 3×)", "A few to 300 times higher", "Over 300 times higher"
FIRST_COST = {"source": RECIPES["theano-da-mistyped"].published["cost_epoch_0"],
              "source_correct": RECIPES["theano-da"].published["cost_per_epoch"][0]}


def pair_specs(dataset: str):
    """The lecture's dA pair (the tutorial's recipe at corruption 0 and 0.3), as the Filters page shows it."""
    return lecture_spec("dae", dataset, level=0.0), lecture_spec("dae", dataset, level=0.3)


def mistyped_spec(dataset: str):
    """The plain dA with the tutorial's mistyped initialisation bound, on the same budget as the pair."""
    plain = pair_specs(dataset)[0]
    spec = replace(plain, model=replace(plain.model, init=RECIPES["theano-da-mistyped"].settings["init"]))
    return spec


def pair(ctx: StepContext):
    """(plain, denoising) stored models, or None while either trains (both trainings are shown)."""
    why = "This lesson compares the dA tutorial's two models."
    plain, denoising = pair_specs(ctx.dataset)
    cols = st.columns(2)
    with cols[0]:
        a = ctx.model(plain, why=why)
    with cols[1]:
        b = ctx.model(denoising, why=why)
    return (a, b) if a is not None and b is not None else None


def the_three(ctx: StepContext) -> tuple[int, np.ndarray, np.ndarray]:
    """(test index, the clean 3 in [0, 1], the same 3 with NOISY of its pixels masked)."""
    y = ctx.data.y_test
    i = int(np.flatnonzero(y == 3)[0]) if (y == 3).any() else 0
    clean = ctx.data.x_test[i].astype(np.float32) / 255.0
    return i, clean, corrupt_images(clean, "masking", NOISY)


def _digit(col, image, caption: str, size: int = 168) -> None:
    col.image(figures.digit_image(image, size), caption=caption, width="stretch")


# ---- step 1: corrupt, rebuild --------------------------------------------------------------------------

def corrupt_view(ctx: StepContext) -> None:
    models = pair(ctx)
    if models is None:
        return
    _, clean, _ = the_three(ctx)
    masked = corrupt_images(clean, "masking", 0.3)
    rebuilt = reconstruct_images(models[1].model, masked[None])[0]
    cols = st.columns(3, gap="medium")
    _digit(cols[0], clean, "the test digit")
    _digit(cols[1], masked, "30% of its pixels masked: what the model sees")
    with cols[2], ctx.highlight("rebuilt"):
        _digit(st, rebuilt, "what the corruption-0.3 model rebuilds")
    st.caption(f"{models[1].meta.get('label', '')}: trained to rebuild the clean digit from masked ones.")


# ---- step 2: predict which cleans the noisy 3 ---------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=16)
def masked_test_errors(plain_key: str, denoising_key: str, dataset: str) -> tuple[float, float]:
    """Squared error per pixel against the clean digits, every test digit masked at NOISY: (plain, denoising)."""
    clean = resources.dataset(dataset).x_test
    return tuple(denoising_error(maps._model(k), clean, "masking", NOISY) for k in (plain_key, denoising_key))


def _cleaned(ctx: StepContext, models) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Both models' rebuilds of the noisy 3 (the very same noise) and their errors per pixel."""
    _, clean, noisy = the_three(ctx)
    out = [denoise(m.model, clean[None], "masking", NOISY, noisy=noisy[None]) for m in models]
    return out[0].recon[0], out[1].recon[0], float(out[0].squared_error[0]), float(out[1].squared_error[0])


def cleaner(ctx: StepContext) -> str | None:
    models = pair(ctx) if ctx.revealed else None
    if models is None:
        return None
    *_, plain_error, denoising_error = _cleaned(ctx, models)
    return DENOISING if denoising_error < plain_error else PLAIN


def clean_view(ctx: StepContext) -> None:
    models = pair(ctx)
    if models is None:
        return
    i, clean, noisy = the_three(ctx)
    cols = st.columns(4, gap="small")
    with cols[0], (ctx.highlight("to clean") if not ctx.revealed else st.container()):
        _digit(st, noisy, f"test digit #{i}, {NOISY:.0%} of its pixels masked")
    if not ctx.revealed:
        for col, level in zip(cols[1:3], (0, 0.3)):
            col.image(figures.digit_image(np.full((28, 28), 0.5, dtype=np.float32)), width="stretch",
                      caption=f"corruption {level:g} cleans it: ?")
        _digit(cols[3], clean, "the clean digit")
        return
    plain_out, denoising_out, plain_error, denoising_error = _cleaned(ctx, models)
    better = 2 if denoising_error < plain_error else 1  # the column of the model closer to the clean digit
    for k, (col, image, error, name) in enumerate(((cols[1], plain_out, plain_error, "corruption 0"),
                                                   (cols[2], denoising_out, denoising_error, "corruption 0.3")), 1):
        with col, (ctx.highlight("cleaner") if k == better else st.container()):
            _digit(st, image, f"{name}: error {error:.4f} per pixel")
    _digit(cols[3], clean, "the clean digit")
    plain_all, denoising_all = masked_test_errors(models[0].key, models[1].key, ctx.dataset)
    st.caption(f"Over all {len(ctx.data.x_test):,} test digits masked the same way: error {plain_all:.4f} "
               f"per pixel at corruption 0, {denoising_all:.4f} at 0.3.")


# ---- step 3: the filters --------------------------------------------------------------------------------

def filters_view(ctx: StepContext) -> None:
    models = pair(ctx)
    if models is None:
        return
    pictures = [exports.filter_picture(m.key, N_FILTERS) for m in models]
    cols = st.columns(2, gap="large")
    for col, (picture, shown), level in zip(cols, pictures, (0, 0.3)):
        with col, (ctx.highlight("strokes and blobs?") if level else st.container()):
            st.image(figures.enlarge(picture, 2), width="stretch",
                     caption=f"corruption {level:g}: first {shown} filters")
    st.caption(words.filter_pair_caption(picture_correlation(pictures[0][0], pictures[1][0]),
                                         exports.filter_concentration_of(models[0].key, N_FILTERS),
                                         exports.filter_concentration_of(models[1].key, N_FILTERS)))


# ---- steps 4 and 5: the mistyped initialisation ---------------------------------------------------------

def _costs(meta: dict) -> list[float]:
    """Training cost per epoch (the tutorial's printed cost: cross-entropy summed over pixels)."""
    return [h["train"]["loss"] for h in meta.get("history", []) if h.get("stage") == "train" and h.get("train")]


def wrong_start(ctx: StepContext):
    """(the correct plain dA, the mistyped one), or None while either trains."""
    why = "This step compares the tutorial's initialisation with its mistyped one."
    cols = st.columns(2)
    with cols[0]:
        correct = ctx.model(pair_specs(ctx.dataset)[0], why=why)
    with cols[1]:
        mistyped = ctx.model(mistyped_spec(ctx.dataset), why=why)
    return (correct, mistyped) if correct is not None and mistyped is not None else None


def first_cost_ratio(ctx: StepContext) -> float | None:
    models = wrong_start(ctx)
    if models is None:
        return None
    correct, mistyped = (_costs(m.meta) for m in models)
    return mistyped[0] / correct[0] if correct and mistyped else None


def ratio_answer(ctx: StepContext) -> str | None:
    ratio = first_cost_ratio(ctx) if ctx.revealed else None
    return None if ratio is None else SAME if ratio < 3 else SEVERAL if ratio <= 300 else HUGE


def mistyped_view(ctx: StepContext) -> None:
    st.markdown("The tutorial's bound: **4·√(6 / (n_visible + n_hidden)) = 0.27**. Mistyped: "
                "**4·√(6 / n_hidden + n_visible) ≈ 112**, so every weight starts up to 400 times larger.")
    models = wrong_start(ctx)
    if models is None:
        return
    correct, mistyped = (_costs(m.meta) for m in models)
    fig = figures._figure()
    shown = (("tutorial's initialisation", correct, 0),) + ((("mistyped", mistyped, 3),) if ctx.revealed else ())
    for name, costs, color in shown:
        fig.add_scatter(x=list(range(1, len(costs) + 1)), y=costs, mode="lines+markers", name=name,
                        line=dict(color=figures.CLASS_COLORS[color], width=3), marker=dict(size=8))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="training cost (log scale)", type="log")
    with ctx.highlight("the first epoch"):
        st.plotly_chart(figures._layout(fig, 300), width="stretch")
    if not ctx.revealed:
        st.caption(f"The tutorial's initialisation: {correct[0]:,.1f} in epoch 1 here. The mistyped curve "
                   "appears once you have guessed.")
        return
    st.caption(f"Epoch 1 here: {mistyped[0]:,.1f} mistyped vs {correct[0]:,.1f} ({mistyped[0] / correct[0]:,.0f}×). "
               f"The source printed {FIRST_COST['source']:,.1f} vs {FIRST_COST['source_correct']:,.1f} "
               f"({FIRST_COST['source'] / FIRST_COST['source_correct']:,.0f}×) on 50,000 digits.")


def leftover_view(ctx: StepContext) -> None:
    models = wrong_start(ctx)
    if models is None:
        return
    cols = st.columns(2, gap="large")
    for col, m, name in zip(cols, models, ("tutorial's initialisation", "mistyped initialisation")):
        picture, shown = exports.filter_picture(m.key, N_FILTERS)
        costs = _costs(m.meta)
        with col, (ctx.highlight("after training") if m is models[1] else st.container()):
            st.image(figures.enlarge(picture, 2), width="stretch",
                     caption=f"{name}: first {shown} filters; last epoch's cost {costs[-1]:,.1f}" if costs
                     else f"{name}: first {shown} filters")


LESSON = Lesson(
    slug="denoising", title="Denoising", source="000",
    question="What does hiding pixels in training teach an autoencoder, and what does a bad start cost?",
    steps=(
        Step("Corrupt, then rebuild", "A denoising autoencoder sees each training digit with 30% of its "
             "pixels masked to black, and must rebuild the clean digit. Both models here follow the dA "
             "tutorial; one is trained with corruption 0, a plain autoencoder.", corrupt_view),
        Step("Which one cleans it?", "Here half the pixels of a 3 are masked, more than either model saw in "
             "training. Only one model ever had to fill in missing strokes.", clean_view,
             predict=Predict("Which model rebuilds this noisy 3 closer to the clean one?", cleaner,
                             options=(PLAIN, DENOISING))),
        Step("What the filters look for", "Each tile is one hidden unit's 784 input weights: the pattern "
             "that makes it fire. The tutorial's figure shows noise-like filters at corruption 0 and strokes "
             "at 0.3. The sentence below says what was measured on these two.", filters_view),
        Step("A misplaced parenthesis", "The tutorial warns about one typo in its initialisation. Training "
             "cost is the cross-entropy summed over the 784 pixels.", mistyped_view,
             predict=Predict("How does the first epoch's cost compare with the correct start's?", ratio_answer,
                             options=(SAME, SEVERAL, HUGE))),
        Step("What the bad start leaves", "Saturated sigmoid units barely learn: their gradients are close to "
             "zero. Compare the filters and the last epoch's cost after the same training.", leftover_view),
    ))
