"""Lesson 1, Compression: an autoencoder against PCA with the same 32 numbers per digit, and what its
codes are worth compared with the pixels (sources 002 and 003: the deep MLP and CNTK autoencoders)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.metrics import cosine_similarity_matrix, encode_images, reconstruct_images
from aecore.spec import lecture_spec
from app import figures, maps, resources
from app.lessons.lesson import Lesson, Predict, Step, StepContext

SHOWN = 8  # test digits in a row
AE, PCA = "The autoencoder", "PCA"
CODES, PIXELS, TIE = "Neighbours by code", "Neighbours by pixels", "About the same"


def ae_spec(dataset: str):
    """The lesson's autoencoder: the lecture's ae, source 003's 784-32-784 (one layer, 32 numbers, easy to
    hold in mind), the model the Embeddings page opens on."""
    return lecture_spec("ae", dataset)


def _code_size(dataset: str) -> int:
    return ae_spec(dataset).model.hidden[-1]


def autoencoder(ctx: StepContext):
    return ctx.model(ae_spec(ctx.dataset), why="This lesson compresses digits with source 003's autoencoder.")


@st.cache_data(show_spinner="Fitting PCA…", max_entries=4)
def pca_basis(dataset: str, components: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(mean image (784,), the first `components` principal directions (components, 784)) of the
    training digits, pixels in [0, 1]: the top eigenvectors of their 784x784 covariance (a tenth of
    scikit-learn's full PCA's time here)."""
    train = resources.dataset(dataset).x_train.reshape(-1, 784).astype(np.float64) / 255.0
    mean = train.mean(axis=0)
    centred = train - mean
    _, vectors = np.linalg.eigh(centred.T @ centred)  # eigenvalues ascending
    return mean.astype(np.float32), vectors[:, ::-1][:, :components].T.astype(np.float32)


def pca_reconstruct(dataset: str, images: np.ndarray, k: int) -> np.ndarray:
    """`images` (uint8) rebuilt from their first `k` principal components, (N, 28, 28) in [0, 1]."""
    mean, basis = pca_basis(dataset)
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0 - mean
    return (x @ basis[:k].T @ basis[:k] + mean).reshape(-1, 28, 28)


@st.cache_data(show_spinner=False, max_entries=8)
def test_errors(key: str, dataset: str) -> dict[str, float]:
    """Mean squared error per pixel on every test digit: the autoencoder's and PCA's at each k."""
    x = resources.dataset(dataset).x_test
    truth = x.astype(np.float32) / 255.0
    errors = {"ae": float(((reconstruct_images(maps._model(key), x) - truth) ** 2).mean())}
    for k in (2, 4, 8, 16, 24, 32, 48, 64, 96, 128):
        errors[k] = float(((pca_reconstruct(dataset, x, k) - truth) ** 2).mean())
    return errors


def _shown_digits(ctx: StepContext) -> np.ndarray:
    """One test digit of each of the first SHOWN classes."""
    y = ctx.data.y_test
    return np.array([np.flatnonzero(y == c)[0] for c in range(min(SHOWN, len(ctx.data.class_names)))])


# ---- step 1: a digit, its code, its decode -----------------------------------------------------------

def squeeze_view(ctx: StepContext) -> None:
    stored = autoencoder(ctx)
    if stored is None:
        return
    i = _shown_digits(ctx)[3]
    digit = ctx.data.x_test[i]
    code = encode_images(stored.model, digit[None])[0]
    rebuilt = reconstruct_images(stored.model, digit[None])[0]
    cols = st.columns([1, 1.4, 1], gap="medium", vertical_alignment="center")
    cols[0].image(figures.digit_image(digit / 255.0, 196), caption="784 pixels in", width="stretch")
    with cols[1], ctx.highlight(f"the code: {code.size} numbers"):
        st.image(figures.code_bars(code, width=320, height=240), width="stretch",
                 caption=f"blue above zero, red below; the largest is {np.abs(code).max():.1f}")
    cols[2].image(figures.digit_image(rebuilt, 196), caption="784 pixels out", width="stretch")
    st.caption(f"{stored.meta.get('label', '')}: encoder 784 → {code.size}, decoder {code.size} → 784.")


# ---- step 2: predict, then see the autoencoder and PCA side by side ------------------------------------

def better_rebuilder(ctx: StepContext) -> str | None:
    stored = autoencoder(ctx) if ctx.revealed else None
    if stored is None:
        return None
    errors = test_errors(stored.key, ctx.dataset)
    return AE if errors["ae"] < errors[_code_size(ctx.dataset)] else PCA


def versus_view(ctx: StepContext) -> None:
    stored = autoencoder(ctx)
    if stored is None:
        return
    k = _code_size(ctx.dataset)
    shown = _shown_digits(ctx)
    x = ctx.data.x_test[shown]
    with (ctx.highlight("to rebuild from 32 numbers") if not ctx.revealed else st.container()):
        st.image(figures.enlarge(figures.tile(x / 255.0, ncols=len(shown)), 3), width="stretch",
                 caption="test digits the models never trained on")
    if not ctx.revealed:
        st.info(f"Both keep {k} numbers per digit. Guess which rebuilds these digits better, then reveal.")
        return
    errors = test_errors(stored.key, ctx.dataset)
    with ctx.highlight(f"rebuilt from {k} numbers"):
        for name, images, error in (("autoencoder", reconstruct_images(stored.model, x), errors["ae"]),
                                    (f"PCA({k})", np.clip(pca_reconstruct(ctx.dataset, x, k), 0, 1), errors[k])):
            st.image(figures.enlarge(figures.tile(images, ncols=len(shown)), 3), width="stretch",
                     caption=f"{name}: squared error {error:.4f} per pixel over all {len(ctx.data.x_test):,} "
                             "test digits")


# ---- step 3: how many PCA numbers match the autoencoder ------------------------------------------------

def curve_view(ctx: StepContext) -> None:
    stored = autoencoder(ctx)
    if stored is None:
        return
    errors = test_errors(stored.key, ctx.dataset)
    k = _code_size(ctx.dataset)
    ks = [c for c in errors if c != "ae"]
    fig = figures._figure()
    fig.add_scatter(x=ks, y=[errors[c] for c in ks], mode="lines+markers", name="PCA with k numbers",
                    line=dict(color=figures.CLASS_COLORS[0], width=3), marker=dict(size=9))
    fig.add_scatter(x=[k], y=[errors["ae"]], mode="markers", name=f"autoencoder, {k} numbers",
                    marker=dict(size=18, symbol="star", color=figures.CLASS_COLORS[3]))
    fig.update_xaxes(title="numbers kept per digit (k)", type="log", tickvals=ks)
    fig.update_yaxes(title="squared error per pixel")
    matched = next((c for c in ks if errors[c] <= errors["ae"]), None)
    with ctx.highlight("the star against the line"):
        st.plotly_chart(figures._layout(fig, 380), width="stretch")
    st.caption(f"PCA first matches the autoencoder's error with k = {matched} numbers." if matched else
               f"PCA does not match the autoencoder's error even with {ks[-1]} numbers.")


# ---- step 4: predict, then 10 nearest neighbours by codes vs by pixels -----------------------------------

@st.cache_data(show_spinner="Counting nearest neighbours…", max_entries=8)
def knn_accuracy(key: str, dataset: str, k: int = 10) -> tuple[float, float]:
    """(10-NN test accuracy on the codes, on the pixels): each test digit takes its k nearest
    training digits' majority class."""

    data = resources.dataset(dataset)

    def vote(train: np.ndarray, test: np.ndarray) -> float:
        correct = 0
        for start in range(0, len(test), 500):
            t = test[start:start + 500]
            d = (t ** 2).sum(1)[:, None] - 2 * t @ train.T + (train ** 2).sum(1)[None]
            near = data.y_train[np.argpartition(d, k, axis=1)[:, :k]]
            votes = np.apply_along_axis(np.bincount, 1, near, minlength=len(data.class_names)).argmax(1)
            correct += int((votes == data.y_test[start:start + 500]).sum())
        return correct / len(test)

    model = maps._model(key)
    flat = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255.0  # noqa: E731
    return (vote(encode_images(model, data.x_train), encode_images(model, data.x_test)),
            vote(flat(data.x_train), flat(data.x_test)))


def neighbours_answer(ctx: StepContext) -> str | None:
    stored = autoencoder(ctx) if ctx.revealed else None
    if stored is None:
        return None
    code_nn, pixel_nn = knn_accuracy(stored.key, ctx.dataset)
    if abs(code_nn - pixel_nn) < noise_band(len(ctx.data.x_test)):
        return TIE
    return CODES if code_nn > pixel_nn else PIXELS


def noise_band(n: int, accuracy: float = 0.9) -> float:
    """Two standard errors of the difference of two accuracies near `accuracy` on `n` test digits: a gap
    smaller than this could be chance."""
    return 2 * np.sqrt(2 * accuracy * (1 - accuracy) / n)


def neighbours_view(ctx: StepContext) -> None:
    stored = autoencoder(ctx)
    if stored is None:
        return
    k = _code_size(ctx.dataset)
    i = _shown_digits(ctx)[5]
    digit = ctx.data.x_test[i]
    cols = st.columns([1, 1.6], gap="medium", vertical_alignment="center")  # what each vote compares
    cols[0].image(figures.digit_image(digit / 255.0, 168), caption="784 pixels", width="stretch")
    with cols[1], (ctx.highlight("what the code keeps") if not ctx.revealed else st.container()):
        st.image(figures.code_bars(encode_images(stored.model, digit[None])[0], width=320, height=140),
                 caption=f"or its {k} code numbers", width="stretch")
    if not ctx.revealed:
        return
    code_nn, pixel_nn = knn_accuracy(stored.key, ctx.dataset)
    n = len(ctx.data.x_test)
    with ctx.highlight(f"test digits the 10 nearest neighbours name right, of {n:,}"):
        cols = st.columns(2)
        cols[0].metric(f"by the {k} code numbers", f"{code_nn:.1%}",
                       f"{(code_nn - pixel_nn) * 100:+.1f} points vs pixels")
        cols[1].metric("by the 784 pixels", f"{pixel_nn:.1%}")
    st.caption(f"A gap under {noise_band(n) * 100:.1f} points (two standard errors on {n:,} digits) could be "
               "chance. The Filters & codes page fits a linear classifier on the codes too.")


# ---- step 5: similar to the eye, similar in the code (source 003's cosine similarities) --------------

def similarity_view(ctx: StepContext) -> None:
    stored = autoencoder(ctx)
    if stored is None:
        return
    y = ctx.data.y_test
    pairs = [("two 6s", np.flatnonzero(y == 6)[:2]), ("a 3 and an 8", [np.flatnonzero(y == 3)[0],
                                                                        np.flatnonzero(y == 8)[0]])]
    cols = st.columns(2, gap="large")
    for col, (name, (a, b)) in zip(cols, pairs):
        x = ctx.data.x_test[[a, b]]
        pixels = cosine_similarity_matrix(x.reshape(2, -1).astype(np.float32))[0, 1]
        codes = cosine_similarity_matrix(encode_images(stored.model, x))[0, 1]
        with col:
            st.image(figures.enlarge(figures.tile(x / 255.0, ncols=2), 5), caption=name, width="stretch")
            with ctx.highlight("cosine similarity"):
                st.markdown(f"pixels **{pixels:.2f}** · code **{codes:.2f}**")


LESSON = Lesson(
    slug="compression", title="Compression", source="002, 003",
    question="What does an autoencoder keep when it squeezes a digit into a few numbers?",
    steps=(
        Step("Squeeze and rebuild", "The encoder turns a digit's 784 pixels into 32 numbers, its code. "
             "The decoder rebuilds the whole digit from those numbers alone. Look at the code: that is all "
             "that crosses the middle.", squeeze_view),
        Step("Autoencoder or PCA?", "PCA is the best linear way to keep 32 numbers per digit. The "
             "autoencoder bends its code with ReLU and a sigmoid output. Same budget: which rebuilds better?",
             versus_view, predict=Predict("With 32 numbers each, which rebuilds test digits with less error?",
                                          better_rebuilder, options=(AE, PCA))),
        Step("How many numbers does PCA need?", "Each point is PCA keeping k numbers per digit. The star is "
             "the autoencoder with 32. Where the line crosses the star's height, PCA catches up.", curve_view),
        Step("Codes or pixels?", "A code is useful when digits of one class lie close together in it. Each "
             "test digit takes the class most of its 10 nearest training digits have, measured by their codes "
             "or by their pixels.", neighbours_view,
             predict=Predict("Which names more test digits right: neighbours by code, or by pixels?",
                             neighbours_answer, options=(CODES, PIXELS, TIE))),
        Step("Similar in the code", "Source 003 compares two 6s, and a 3 with an 8, by cosine similarity. "
             "In pixels a 3 and an 8 share many strokes. Compare how far apart the code puts them.",
             similarity_view),
    ))
