"""Lesson 5, Reading maps honestly: the same codes of the lecture's autoencoder under PCA, t-SNE and UMAP,
how far each map keeps the codes' neighbours (trustworthiness and 10-NN accuracy, `aecore.maps.honesty`),
what perplexity does, and which classes are really close in the codes rather than on a map. The maps are
the Embeddings page's, from the same cache."""
from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.maps import method_params
from aecore.maps.honesty import map_caveat, settings_warnings
from aecore.spec import lecture_spec
from app import figures, maps, words
from app.lessons.lesson import Lesson, Predict, Step, StepContext

SEED = 0
MAP_HEIGHT = 340
PAIRS = ("3 and 5", "7 and 9", "4 and 9", "1 and 7")  # the predict's options: classes by their digits
LOW_PERPLEXITY = 5  # the perplexity step's map, against the default 30


def autoencoder(ctx: StepContext):
    return ctx.model(lecture_spec("ae", ctx.dataset), why="This lesson maps the lecture autoencoder's codes.")


def _codes(ctx: StepContext, stored) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test indices, their codes, their labels): every test digit, as the Embeddings page's default."""
    n = min(2000, len(ctx.data.x_test))
    idx, codes = maps.test_codes(stored.key, ctx.dataset, n, SEED)
    return idx, codes, np.asarray(ctx.data.y_test)[idx]


def fitted_map(ctx: StepContext, method: str, perplexity: float = 30.0):
    """(points (N, 2), labels, its `MapHonesty`) of the lecture model's codes, or None while it trains."""
    stored = autoencoder(ctx)
    if stored is None:
        return None
    idx, codes, labels = _codes(ctx, stored)
    params = method_params(method, perplexity)
    bar = st.empty()
    proj, _ = maps.projection(stored.key, codes, method, params, SEED,
                              lambda f, message: bar.progress(min(max(float(f), 0.0), 1.0), text=message))
    bar.empty()
    # the Embeddings page's map id, so both share one measurement
    map_id = f"{stored.key}-{method}-{'-'.join(str(v) for v in params.values())}-{len(codes)}-{SEED}"
    return proj.points, labels, maps.honesty(map_id, codes, proj.points, labels)


def map_view(ctx: StepContext, method: str, note: str, perplexity: float = 30.0) -> None:
    found = fitted_map(ctx, method, perplexity)
    if found is None:
        return
    points, labels, honesty = found
    name = maps.METHOD_NAMES[method] + (f", perplexity {perplexity:g}" if method == "tsne" else "")
    chart = figures.map_chart(points, labels, ctx.data.class_names, title=f"{name}: {len(points):,} test digits",
                              height=MAP_HEIGHT, equal_axes=method == "pca")
    with ctx.highlight(note):
        st.echarts_chart(chart, height=MAP_HEIGHT, key=ctx.key(f"map-{method}-{perplexity:g}"))
    st.markdown(f"Trustworthiness **{honesty.trustworthiness:.2f}** · 10-NN accuracy **{honesty.knn_map:.0%}** on "
                f"the map, **{honesty.knn_codes:.0%}** in the codes",
                help=words.term("trustworthiness") + " " + words.term("10-NN accuracy"))
    st.caption(map_caveat(method))
    for warning in settings_warnings(method, method_params(method, perplexity), len(points)):
        st.warning(warning)


def pca_view(ctx: StepContext) -> None:
    map_view(ctx, "pca", "classes pile on top of each other")


def tsne_view(ctx: StepContext) -> None:
    map_view(ctx, "tsne", "islands: each digit beside its neighbours")


def umap_view(ctx: StepContext) -> None:
    map_view(ctx, "umap", "islands again, placed differently")


def low_perplexity_view(ctx: StepContext) -> None:
    map_view(ctx, "tsne", f"perplexity {LOW_PERPLEXITY}: small clumps", perplexity=LOW_PERPLEXITY)


# ---- the predict step: which classes are close in the codes ---------------------------------------------

def class_distances(codes: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) distances between the classes' mean codes."""
    centres = np.stack([codes[labels == c].mean(axis=0) for c in range(classes)])
    return np.linalg.norm(centres[:, None] - centres[None], axis=2)


def _pair(option: str) -> tuple[int, int]:
    a, b = option.split(" and ")
    return int(a), int(b)


def closest_pair(ctx: StepContext) -> str | None:
    stored = autoencoder(ctx) if ctx.revealed else None
    if stored is None:
        return None
    _, codes, labels = _codes(ctx, stored)
    distances = class_distances(codes, labels, len(ctx.data.class_names))
    return min(PAIRS, key=lambda option: distances[_pair(option)])


def closest_view(ctx: StepContext) -> None:
    if not ctx.revealed:
        map_view(ctx, "tsne", "which clusters sit closest?")
        return
    found = fitted_map(ctx, "tsne")
    stored = autoencoder(ctx)
    if found is None or stored is None:
        return
    points, labels, _ = found
    _, codes, _ = _codes(ctx, stored)
    k = len(ctx.data.class_names)
    in_codes, on_map = class_distances(codes, labels, k), class_distances(points, labels, k)
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    rank_codes = {p: r for r, p in enumerate(sorted(pairs, key=lambda p: in_codes[p]), 1)}
    rank_map = {p: r for r, p in enumerate(sorted(pairs, key=lambda p: on_map[p]), 1)}
    shown = sorted({*(_pair(o) for o in PAIRS), *sorted(pairs, key=lambda p: in_codes[p])[:3]},
                   key=lambda p: in_codes[p])
    with ctx.highlight("closest in the codes, of all 45 pairs"):
        st.markdown("| classes | distance in the codes | rank in the codes | rank on the t-SNE map |\n"
                    "|:--|--:|--:|--:|\n" + "".join(
                        f"| {ctx.data.class_names[a]} and {ctx.data.class_names[b]} | {in_codes[a, b]:.2f} | "
                        f"{rank_codes[(a, b)]} | {rank_map[(a, b)]} |\n" for a, b in shown))
    st.caption("Distance between the classes' mean codes (all 32 numbers); rank 1 is the closest pair. "
               "Where the two ranks differ, the map's distances between clusters misled.")


LESSON = Lesson(
    slug="reading-maps", title="Reading maps", source="003",
    question="What can a 2-D map of codes tell you about the codes, and what can it not?",
    steps=(
        Step("PCA: a linear shadow", "These are the lecture autoencoder's 32-number codes of every test digit, "
             "flattened by PCA onto the two directions in which they vary most. Distances along them are real, "
             "but most classes overlap.", pca_view),
        Step("t-SNE: neighbours first", "t-SNE places each digit next to its nearest neighbours in the codes. "
             "Trustworthiness near 1 says its neighbours are real ones.", tsne_view),
        Step("UMAP: another layout", "UMAP also keeps neighbours, but lays the islands out differently. "
             "Where an island sits, and how big it looks, is not a property of the codes.", umap_view),
        Step("Guess: which classes are closest?", "Look at the t-SNE map, then name the pair of digits whose "
             "codes are closest on average.", closest_view,
             predict=Predict("Which two classes are really closest in the codes?", closest_pair, options=PAIRS)),
        Step("Perplexity", f"Perplexity {LOW_PERPLEXITY} asks each point to keep only about five neighbours "
             "close. Classes break into clumps that need not exist in the codes.", low_perplexity_view),
    ),
)
