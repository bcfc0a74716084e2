"""Lesson 3, The VAE's latent plane: every digit a point on a plane, a grid of decodes walking it, new
digits sampled from the prior, and why a plain autoencoder's plane has holes (source 001: the Keras
MLP VAE, 784-256-2)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.latent import decode_codes, decode_grid, latent_grid_points, sample_prior
from aecore.spec import lecture_spec, make_spec
from app import figures, maps
from app.lessons.lesson import Lesson, Predict, Step, StepContext

GRID = 11  # decodes at normal quantiles 0.05 ... 0.95 as in the Keras figure (15 x 15 there): 11 fit a 1280x720 view
SAMPLES = 24
MAP_HEIGHT = 430  # the map and the grid side by side fit a 1280x720 screen
HIDDEN_CLASS = 7  # the digit whose landing spot the student guesses
MOST, PART = "Yes, most of them", "No, only a part of them"


def vae(ctx: StepContext):
    return ctx.model(lecture_spec("vae", ctx.dataset), why="This lesson walks the Keras VAE's 2-D plane.")


def plain_ae(ctx: StepContext):
    """A plain autoencoder with the same 784-256-2 shape: no prior, no KL term (the family's defaults:
    the lecture's ae is the CNTK recipe, whose ReLU code would fold a 2-D plane into one quadrant)."""
    return ctx.model(make_spec("ae", ctx.dataset, hidden=(256, 2)),
                     why="This step compares the VAE with a plain autoencoder of the same shape.")


def codes_of(ctx: StepContext, stored) -> np.ndarray:
    """Every test digit's 2-D code (posterior means for a VAE), in test order."""
    return maps.test_codes(stored.key, ctx.dataset, len(ctx.data.x_test), 0)[1]


def clickable(fig, codes: np.ndarray, side: int = 40):
    """Lay an invisible grid of points under `fig` so that a click anywhere near the codes picks a spot."""
    x0, x1, y0, y1 = figures.robust_box(codes, 0.995)
    half = 0.55 * max(x1 - x0, y1 - y0)  # a square box: one unit as long on both axes fills the plot
    (cx, cy), pad = ((x0 + x1) / 2, (y0 + y1) / 2), 0.0
    x0, x1, y0, y1 = cx - half, cx + half, cy - half, cy + half
    gx, gy = np.meshgrid(np.linspace(x0 - pad, x1 + pad, side), np.linspace(y0 - pad, y1 + pad, side))
    fig.add_scattergl(x=gx.ravel(), y=gy.ravel(), mode="markers", showlegend=False, name="",
                      customdata=np.full(gx.size, -1), marker=dict(size=14, color="rgba(0,0,0,0)"),
                      hovertemplate="z = (%{x:.2f}, %{y:.2f})<extra></extra>")
    fig.data = fig.data[-1:] + fig.data[:-1]  # underneath the digits
    fig.update_xaxes(range=[x0, x1], title_text="z₁", constrain="domain")
    fig.update_yaxes(range=[y0, y1], title_text="z₂", constrain="domain")
    return fig.update_layout(dragmode="pan", margin=dict(l=10, r=10, t=30, b=10))


def labelled(fig, codes: np.ndarray, labels: np.ndarray, class_names):
    """Write each class's name at the middle of its codes, in its colour, instead of a legend beside the
    plot: a narrow column keeps the plot its width, and the map reads at a glance."""
    for c, name in enumerate(class_names):
        members = codes[labels == c]
        if len(members):
            x, y = np.median(members, axis=0)
            fig.add_annotation(x=x, y=y, text=f"<b>{name}</b>", showarrow=False, bgcolor="rgba(255,255,255,0.75)",
                               font=dict(size=figures.text_px() + 6, color=figures.CLASS_COLORS[c % 10]))
    return fig.update_layout(showlegend=False)


def _mark(fig, point, name: str, symbol: str, color: str = "black"):
    fig.add_scatter(x=[point[0]], y=[point[1]], mode="markers", name=name,
                    marker=dict(size=22, symbol=symbol, color=color, line=dict(color="white", width=2)))


# ---- step 1: every digit a point --------------------------------------------------------------------

def plane_view(ctx: StepContext) -> None:
    stored = vae(ctx)
    if stored is None:
        return
    codes = codes_of(ctx, stored)
    with ctx.highlight("one point per test digit"):
        fig = figures.latent_scatter(codes, ctx.data.y_test, ctx.data.class_names, height=MAP_HEIGHT, marker_size=5)
        st.plotly_chart(labelled(fig, codes, ctx.data.y_test, ctx.data.class_names), width="stretch",
                        key=ctx.key("map"))
    st.caption(f"{stored.meta.get('label', '')}: the code's mean (z₁, z₂) of each of "
               f"{len(codes):,} test digits, coloured by class.")


# ---- step 2: predict where a 7 lands ------------------------------------------------------------------

def the_seven(ctx: StepContext) -> int:
    y = ctx.data.y_test
    return int(np.flatnonzero(y == HIDDEN_CLASS)[0]) if (y == HIDDEN_CLASS).any() else 0


def landing_answer(ctx: StepContext) -> str | None:
    stored = vae(ctx) if ctx.revealed else None
    if stored is None or ctx.guess is None:
        return None
    codes = codes_of(ctx, stored)
    z = codes[the_seven(ctx)]
    distance = float(np.linalg.norm(z - np.asarray(ctx.guess)))
    sevens = codes[ctx.data.y_test == HIDDEN_CLASS]
    typical = float(np.median(np.linalg.norm(sevens - sevens.mean(0), axis=1)))
    return (f"it landed at ({z[0]:.2f}, {z[1]:.2f}), {distance:.2f} from your click; "
            f"half the 7s lie within {typical:.2f} of the 7s' centre.")


def landing_view(ctx: StepContext) -> None:
    stored = vae(ctx)
    if stored is None:
        return
    codes = codes_of(ctx, stored)
    i = the_seven(ctx)
    y = ctx.data.y_test
    left, right = st.columns([0.8, 3], gap="small")
    left.image(figures.digit_image(ctx.data.x_test[i] / 255.0, 168), caption=f"this {HIDDEN_CLASS} (test digit #{i})",
               width="stretch")
    shown = np.ones(len(codes), bool) if ctx.revealed else y != HIDDEN_CLASS
    fig = figures.latent_scatter(codes[shown], y[shown], ctx.data.class_names, height=MAP_HEIGHT, marker_size=5)
    labelled(fig, codes[shown], y[shown], ctx.data.class_names)
    if ctx.guess is not None:
        _mark(fig, ctx.guess, "your guess", "x")
    if ctx.revealed:
        _mark(fig, codes[i], f"this {HIDDEN_CLASS}", "star")
        fig.add_annotation(x=codes[i][0], y=codes[i][1], text=f"this {HIDDEN_CLASS}", yshift=22, showarrow=False,
                           font=dict(size=figures.text_px()))
    if ctx.guess is not None:
        fig.add_annotation(x=ctx.guess[0], y=ctx.guess[1], text="your guess", yshift=-22, showarrow=False,
                           font=dict(size=figures.text_px()))
    with right, ctx.highlight("click where it will land" if not ctx.revealed else f"the star: this {HIDDEN_CLASS}"):
        event = st.plotly_chart(clickable(fig, codes), width="stretch", key=ctx.key("map"),
                                on_select="ignore" if ctx.revealed else "rerun", selection_mode="points")
    points = (event.selection or {}).get("points") if event is not None and not ctx.revealed else None
    if points:
        guess = [round(float(points[-1]["x"]), 3), round(float(points[-1]["y"]), 3)]
        if guess != ctx.guess:
            ctx.record_guess(guess)
    if not ctx.revealed:
        left.caption(f"The {HIDDEN_CLASS}s are hidden from the map. Click where this one will land.")


# ---- step 3: walk the plane --------------------------------------------------------------------------

@st.cache_data(show_spinner="Decoding the grid…", max_entries=8)
def grid_picture(key: str) -> np.ndarray:
    return figures.tile(decode_grid(maps._model(key), GRID).reshape(-1, 28, 28), ncols=GRID, pad=0)


def walk_view(ctx: StepContext) -> None:
    stored = vae(ctx)
    if stored is None:
        return
    codes = codes_of(ctx, stored)
    grid_codes = latent_grid_points(GRID)
    left, right = st.columns([1.15, 1], gap="small", vertical_alignment="center")
    with left, ctx.highlight(f"{GRID}×{GRID} decoded codes"):
        st.image(figures.enlarge(grid_picture(stored.key), 2), width="stretch",
                 caption="z₁ grows to the right, z₂ upwards")
    fig = figures.grid_map_figure(codes, ctx.data.y_test, ctx.data.class_names, grid_codes, height=340)
    right.plotly_chart(labelled(fig, codes, ctx.data.y_test, ctx.data.class_names), width="stretch",
                       key=ctx.key("map"))
    (x0, y0), (x1, y1) = grid_codes.min(0), grid_codes.max(0)
    st.caption(f"Each tile decodes one code of the dashed box: z₁ from {x0:.2f} to {x1:.2f} (left to right), "
               f"z₂ from {y0:.2f} to {y1:.2f} (bottom to top). The Latent grid page walks it click by click.")


# ---- step 4: sample the prior ------------------------------------------------------------------------

def sample_view(ctx: StepContext) -> None:
    stored = vae(ctx)
    if stored is None:
        return
    seed = st.session_state.setdefault(ctx.key("seed"), 0)
    with ctx.highlight("new digits"):
        st.image(figures.enlarge(figures.tile(sample_prior(stored.model, SAMPLES, seed), ncols=8), 3),
                 width="stretch", caption=f"{SAMPLES} codes drawn from N(0, I) and decoded (seed {seed})")
    if st.button("Draw new samples", key=ctx.key("resample"), icon=":material/casino:"):
        st.session_state[ctx.key("seed")] = seed + 1
        st.rerun()


# ---- step 5: predict whether N(0, I) reaches a plain autoencoder's digits -------------------------------

PRIOR_RADIUS = 2.448  # 95% of N(0, I)'s draws in 2-D lie within this distance of the centre (chi-square, 2 dof)
REACH_MOST = 0.5  # "most" of the test codes within the prior's circle


def prior_codes(n: int = 500) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, 2)).astype(np.float32)


def reached(codes: np.ndarray) -> float:
    """Share of `codes` inside the circle holding 95% of N(0, I)'s draws."""
    return float((np.linalg.norm(codes, axis=1) <= PRIOR_RADIUS).mean())


def both(ctx: StepContext):
    """(the VAE, the plain autoencoder), or None while either trains (both trainings are shown)."""
    cols = st.columns(2)
    with cols[0]:
        a = vae(ctx)
    with cols[1]:
        b = plain_ae(ctx)
    return (a, b) if a is not None and b is not None else None


def reach_answer(ctx: StepContext) -> str | None:
    models = both(ctx) if ctx.revealed else None
    if models is None:
        return None
    return MOST if reached(codes_of(ctx, models[1])) >= REACH_MOST else PART


def reach_view(ctx: StepContext) -> None:
    models = both(ctx)
    if models is None:
        return
    z = prior_codes()
    cols = st.columns(2, gap="large")
    for col, m, name in zip(cols, models, ("VAE", "plain autoencoder")):
        codes = codes_of(ctx, m)
        with col:
            fig = figures.latent_scatter(codes, ctx.data.y_test, ctx.data.class_names, height=300, marker_size=4)
            fig.add_scatter(x=z[:100, 0], y=z[:100, 1], mode="markers", name="N(0, I)",
                            marker=dict(size=7, symbol="x", color="black"))
            if ctx.revealed:
                fig.add_shape(type="circle", x0=-PRIOR_RADIUS, x1=PRIOR_RADIUS, y0=-PRIOR_RADIUS, y1=PRIOR_RADIUS,
                              line=dict(color="black", width=2, dash="dash"))
            labelled(fig, codes, ctx.data.y_test, ctx.data.class_names)
            fig.update_layout(margin=dict(l=10, r=10, t=10, b=10))
            with (ctx.highlight("where the crosses fall") if m is models[1] and not ctx.revealed else st.container()):
                st.plotly_chart(fig, width="stretch", key=ctx.key(f"map-{name}"))
            if not ctx.revealed:
                st.caption(f"{name}: test codes; black crosses: 100 draws from N(0, I)")
                continue
            with (ctx.highlight("what sampling makes") if m is models[1] else st.container()):
                st.image(figures.enlarge(figures.tile(decode_codes(m.model, z[:16]), ncols=8), 2), width="stretch",
                         caption=f"{name}: {reached(codes):.0%} of test codes inside the dashed circle (95% of "
                                 "the draws); the first 16 draws decoded")


# ---- step 6: the holes of a plain autoencoder's plane ---------------------------------------------------

def gap_tiles(codes: np.ndarray, grid_codes: np.ndarray) -> np.ndarray:
    """Whether each grid code is in a hole: farther from every test code than 95% of the test codes are
    from their nearest other test code."""
    d = np.linalg.norm(codes[:, None] - codes[None], axis=2)
    np.fill_diagonal(d, np.inf)
    spacing = np.percentile(d.min(1), 95)
    return np.linalg.norm(grid_codes[:, None] - codes[None], axis=2).min(1) > spacing


def tinted_grid(images: np.ndarray, holes: np.ndarray, n: int) -> np.ndarray:
    """The decoded grid as an RGB picture, the tiles in holes tinted vermilion."""
    rgb = np.repeat(images[..., None], 3, axis=-1)  # (n*n, 28, 28, 3)
    rgb[holes] = rgb[holes] * 0.6 + np.array([0.84, 0.37, 0.0]) * 0.4
    rows = [np.concatenate(list(rgb[r * n:(r + 1) * n]), axis=1) for r in range(n)]
    return (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).astype(np.uint8)


def holes_view(ctx: StepContext) -> None:
    models = both(ctx)
    if models is None:
        return
    vae_model, plain = models
    codes = codes_of(ctx, plain)
    x0, x1, y0, y1 = figures.robust_box(codes)
    grid_codes = latent_grid_points(GRID, limits=(0.0, 1.0)) * [x1 - x0, y1 - y0] + [x0, y0]
    holes = gap_tiles(codes, grid_codes)
    images = decode_codes(plain.model, grid_codes.astype(np.float32)).reshape(-1, 28, 28)
    vae_holes = gap_tiles(codes_of(ctx, vae_model), latent_grid_points(GRID))
    left, right = st.columns([1.15, 1], gap="small", vertical_alignment="center")
    with left, ctx.highlight("tinted tiles: holes"):
        st.image(np.kron(tinted_grid(images, holes, GRID), np.ones((2, 2, 1), dtype=np.uint8)), width="stretch")
    fig = figures.grid_map_figure(codes, ctx.data.y_test, ctx.data.class_names, grid_codes, height=340)
    right.plotly_chart(labelled(fig, codes, ctx.data.y_test, ctx.data.class_names), width="stretch",
                       key=ctx.key("map"))
    st.caption(f"The plain autoencoder's {GRID}×{GRID} grid over the dashed box: {holes.mean():.0%} of its tiles "
               f"lie in holes, far from every test code. The VAE's grid of step 3: {vae_holes.mean():.0%}.")


LESSON = Lesson(
    slug="vae-plane", title="The VAE's plane", source="001",
    question="What does a 2-D latent plane hold, and why can a VAE's be sampled?",
    steps=(
        Step("Every digit is a point", "This VAE squeezes each digit into two numbers, so every test digit is "
             "a point on a plane. Digits of one class gather in a region; similar classes sit side by side.",
             plane_view),
        Step("Where will a 7 land?", "The 7s are hidden from the map. Where the other classes sit is a clue.",
             landing_view, predict=Predict("Click the map where this 7's code will land.", landing_answer)),
        Step("Walk the plane", "Decode a grid of codes instead of encoding digits. Each tile is what the "
             "decoder draws at one spot of the dashed box; neighbouring tiles change smoothly.", walk_view),
        Step("Sample new digits", "A VAE's codes are pulled towards N(0, I), a round cloud around the centre. "
             "Codes drawn from that cloud decode to digits nobody wrote.", sample_view),
        Step("And a plain autoencoder?", "A plain autoencoder of the same shape has no prior: its codes go "
             "wherever they help rebuild. The black crosses are the same draws from N(0, I) on both planes.",
             reach_view, predict=Predict("Do draws from N(0, I) land among most of the plain autoencoder's "
                                         "digits, as they do for the VAE?", reach_answer, options=(MOST, PART))),
        Step("Holes in the plane", "Decode a grid across the plain autoencoder's plane. Tinted tiles lie in "
             "holes, far from every test digit's code: nothing taught the decoder what to draw there. The VAE's "
             "KL term packs its codes into one round cloud.", holes_view),
    ))
