"""Your symbols: draw or upload 10 to 30 examples of a new symbol (a star, a letter), see where a model
puts them on the map of test digits' codes and how unusual it finds them (their reconstruction error
as a percentile of the test digits'), then fine-tune a copy of the model with them included and see
both again. The examples are kept for the whole session, across pages."""
import numpy as np
import streamlit as st

from aecore.data.user_images import MAX_IMAGE_BYTES
from aecore.errors import AecoreError
from aecore.maps import method_params, project_codes
from aecore.metrics import encode_images, reconstruction_errors
from aecore.runs import TrainedModel
from aecore.spec import lecture_spec
from aecore.store import StoredModel
from aecore.symbols import (
    FINE_TUNE_DIGITS,
    FINE_TUNE_FAMILIES,
    MAX_SYMBOLS,
    MIN_SYMBOLS,
    SYMBOL_SHARE,
    error_percentiles,
    fine_tune,
    fine_tune_config,
    fine_tune_key,
    isolation_percentiles,
)
from app import canvas, comparisons, controls, dataset_choice, drawing, figures, lecturer, maps, resources, training

CANVAS_SIDE = 224  # 8 × 28 pixels
STROKE = 15
MAP_HEIGHT = 440  # two maps side by side, each with its legend
SYMBOLS = "symbols"  # session_state: the user's examples, (28, 28) float32 each, kept across pages
STAR_SIZE = 16

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
st.session_state.setdefault(SYMBOLS, [])


def _ordinal(p: float) -> str:
    n = int(round(p))
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _add(examples: list[np.ndarray]) -> None:
    room = MAX_SYMBOLS - len(st.session_state[SYMBOLS])
    st.session_state[SYMBOLS] += [np.asarray(e, dtype=np.float32) for e in examples[:room]]
    st.session_state["sym_n"] = st.session_state.get("sym_n", 0) + 1  # a fresh canvas and upload box
    if len(examples) > room:
        st.session_state["sym_full"] = True


def _remove_all() -> None:
    st.session_state[SYMBOLS] = []
    st.session_state["sym_n"] = st.session_state.get("sym_n", 0) + 1


def uploaded_examples(files) -> list[np.ndarray]:
    """The uploaded files as MNIST-style images; each file that cannot be used gets one line of error."""
    out = []
    for file in files:
        try:
            image = drawing.upload_digit(file.getvalue())
        except AecoreError as e:  # the reason's first clause; the rest names decoder internals
            st.error(f"{file.name}: could not use that image ({str(e).split(':')[0]}).")
            continue
        if image is None:
            st.error(f"{file.name}: no symbol found in that image (it has no ink on a plain background).")
        else:
            out.append(image)
    return out


@st.fragment  # a stroke reruns only this panel; adding an example reruns the page
def examples_panel() -> None:
    n = st.session_state.setdefault("sym_n", 0)
    count = len(st.session_state[SYMBOLS])
    st.markdown(f"**Your examples: {count} of {MIN_SYMBOLS}–{MAX_SYMBOLS}**")
    st.space("small")  # room for the canvas toolbar, which floats above the canvas
    with st.container(width=CANVAS_SIDE):
        result = canvas.digit_canvas(f"sym_canvas_{n}", CANVAS_SIDE, STROKE)
    try:
        drawn = drawing.canvas_digit(result, CANVAS_SIDE)
    except AecoreError as e:
        st.error(f"Could not use the drawing: {str(e).split(':')[0]}.")
        drawn = None
    full = count >= MAX_SYMBOLS
    if st.button("Add this symbol", key="sym_add", type="primary", icon=":material/add:",
                 disabled=drawn is None or full, help="Draw one example of your symbol, then add it."):
        _add([drawn])
        st.rerun()
    with st.expander("…or upload pictures of it"):
        files = st.file_uploader("Images", type=["png", "jpg", "jpeg"], accept_multiple_files=True,
                                 key=f"sym_upload_{n}", max_upload_size=MAX_IMAGE_BYTES // 2**20,
                                 label_visibility="collapsed")
        good = uploaded_examples(files or [])
        if good and st.button(f"Add {len(good)} uploaded", key="sym_add_uploads", disabled=full):
            _add(good)
            st.rerun()
    if st.session_state.pop("sym_full", False) or full:
        st.caption(f"{MAX_SYMBOLS} examples is the most this page takes.")
    if count:
        shown = np.stack(st.session_state[SYMBOLS])
        st.image(figures.inline_png(figures.tile(shown, ncols=6)), width="stretch",
                 caption=f"your {count} example{'s' if count > 1 else ''}, as the model sees them (28×28)")
        st.button("Remove all", key="sym_clear", on_click=_remove_all, icon=":material/delete:")


def symbol_map(points: np.ndarray, labels: np.ndarray, idx: np.ndarray, placed: np.ndarray, title: str) -> dict:
    chart = figures.map_chart(points, labels, data.class_names, title=title, height=MAP_HEIGHT, marker_size=5,
                              extra={"your symbols": placed}, ids=idx, images=data.x_test[idx])
    for series in chart["series"]:  # one legend entry for all the stars, not a label on each
        if series["id"] == "extra-your symbols":
            series["label"]["show"] = False
            series["symbolSize"] = STAR_SIZE
    chart["toolbox"]["show"] = False  # no selection here: the map is to look at
    return chart


# What each percentile metric says, and the colour a rise gets ("inverse": worse rebuilt is red, "normal":
# farther apart is green).
PERCENTILE_WORDS = {
    "error": ("error percentile", "inverse",
              "Your median example's error among the test digits' errors: the share of test digits that this "
              "model rebuilds better.",
              "Your median example is rebuilt worse than {median:.0f}% of the {count:,} test digits. Each "
              "example: {each}."),
    "distance": ("distance percentile", "normal",
                 "Your median example's distance to the nearest test digit's code, among the test digits' "
                 "distances to their nearest neighbour's; in the full code, not on the map.",
                 "Your median example's code is farther from the nearest test digit's code than {median:.0f}% "
                 "of test digits are from their nearest neighbour's."),
}


def percentile_metric(where, what: str, percentiles: np.ndarray, before: np.ndarray | None = None) -> None:
    """The median of `percentiles` as a metric in `where`, worded as `PERCENTILE_WORDS[what]`, with its change
    from `before` (greyed when under half a point)."""
    label, colour, help_text, caption = PERCENTILE_WORDS[what]
    median = float(np.median(percentiles))
    delta = None if before is None else f"{median - float(np.median(before)):+.0f} percentile points"
    where.metric(label, _ordinal(median), delta=delta,
                 delta_color=colour if delta is None or round(median - float(np.median(before))) else "off",
                 help=help_text)
    where.caption(caption.format(median=median, count=len(data.x_test),
                                 each=", ".join(f"{p:.0f}" for p in percentiles)))


def fine_tune_panel(where, model_key: str, stored: StoredModel, symbols: np.ndarray):
    """The fine-tune button and its job's progress; the fine-tuned model once done, else None."""
    cfg = fine_tune_config(stored.spec.train)
    key = fine_tune_key(model_key, symbols, cfg, FINE_TUNE_DIGITS, SYMBOL_SHARE)
    job = resources.registry().get(key)
    with where:
        if job is not None and job.state == "done":
            return job.result.model
        if job is not None and not job.done:
            training.job_progress(job, curves=False, key="sym-ft")
            return None
        if job is not None and job.state == "failed":
            st.error(job.error)
        st.markdown(f"**Fine-tune a copy with your symbols:** {cfg.epochs} epochs on {FINE_TUNE_DIGITS:,} training "
                    f"digits plus your examples, repeated to make up {SYMBOL_SHARE:.0%} of them. The model "
                    "above stays as it is.")
        if len(symbols) < MIN_SYMBOLS:
            st.caption(f"Add at least {MIN_SYMBOLS} examples to fine-tune.")
        if st.button("Fine-tune", key="sym_fine_tune", type="primary", icon=":material/play_arrow:",
                     disabled=len(symbols) < MIN_SYMBOLS):
            family, base = stored.spec.family, stored.model

            def work(callbacks, on_trainer) -> TrainedModel:
                result = fine_tune(base, family, data, symbols, cfg, callbacks=callbacks, on_trainer=on_trainer)
                return TrainedModel(StoredModel(key, result.model, {"label": f"{stored.spec.label()} + symbols"}),
                                    result.stopped_early)

            try:
                resources.registry().submit_task(key, stored.spec, work, owner=lecturer.session_owner(),
                                                 title=f"{stored.spec.label()} with your symbols")
            except AecoreError as e:
                st.error(str(e))
            else:
                st.rerun()
    return None


def tuned_view(job_key: str, tuned, symbols: np.ndarray, n: int) -> tuple:
    """(test indices, PCA points, the symbols' points, their error and isolation percentiles) under the
    fine-tuned model, computed once per session and fine-tune."""
    memo = st.session_state.get("sym_tuned")
    if memo is None or memo[0] != job_key:
        idx = maps.test_subset(len(data.x_test), n, 0)
        codes, symbol_codes = encode_images(tuned, data.x_test[idx]), encode_images(tuned, symbols)
        proj = project_codes(codes, "pca")
        percentiles = error_percentiles(reconstruction_errors(tuned, symbols),
                                        reconstruction_errors(tuned, data.x_test))
        memo = (job_key, (idx, proj.points, proj.transform(symbol_codes), percentiles,
                          isolation_percentiles(symbol_codes, codes)))
        st.session_state["sym_tuned"] = memo
    return memo[1]


st.title("Your symbols")
with st.container(horizontal=True, gap="large"):  # the canvas's column keeps its width in the projector view
    left, right = st.container(width=CANVAS_SIDE + 16), st.container()
with left:
    examples_panel()
with right:
    picked = controls.model_picker(dataset_name, label="Model", default=lecture_spec("ae", dataset_name),
                                   key="sym_model", param="smodel",
                                   accept=lambda spec: spec.family in FINE_TUNE_FAMILIES,
                                   why="Your symbols are measured against a trained model's test digits.")
if picked is None:
    st.stop()
model_key, stored = picked
symbols = np.stack(st.session_state[SYMBOLS]) if st.session_state[SYMBOLS] else None
if symbols is None:
    right.info(f"Draw a symbol that is not a digit (a star, a letter) on the black square and add it; "
               f"{MIN_SYMBOLS} to {MAX_SYMBOLS} examples. Each appears on the map of test digits' codes, with "
               "how unusual the model finds it.", icon=":material/draw:")
    st.stop()

n_points = min(1000, len(data.x_test))
before_col, after_col = right.columns(2, gap="medium")
with st.spinner("Measuring your symbols…"):
    errors = comparisons.test_errors(model_key, dataset_name)
    idx, codes = maps.test_codes(model_key, dataset_name, n_points, 0)
    proj, _ = maps.projection(model_key, codes, "pca", method_params("pca"), 0, lambda *_: None)
if errors is None:
    right.error("That model could not be loaded.")
    st.stop()
before = error_percentiles(reconstruction_errors(stored.model, symbols), errors)
symbol_codes = encode_images(stored.model, symbols)
apart_before = isolation_percentiles(symbol_codes, codes)
with before_col:
    st.markdown(f"**{stored.spec.label()}**")
    percentile_metric(st, "error", before)
    percentile_metric(st, "distance", apart_before)
tuned = fine_tune_panel(after_col, model_key, stored, symbols)

st.subheader("Where your symbols land among the test digits")
map_before, map_after = st.columns(2, gap="large")
placed = proj.transform(symbol_codes)
map_before.echarts_chart(symbol_map(proj.points, data.y_test[idx], idx, placed,
                                    f"{stored.spec.label()}: PCA of codes"), height=MAP_HEIGHT,
                         alt=f"PCA map of {n_points:,} test digits' codes, your symbols as stars",
                         key=f"sym-map-{model_key}")
if tuned is not None:
    job_key = fine_tune_key(model_key, symbols, fine_tune_config(stored.spec.train), FINE_TUNE_DIGITS, SYMBOL_SHARE)
    t_idx, t_points, t_placed, after, apart_after = tuned_view(job_key, tuned, symbols, n_points)
    with after_col:
        st.markdown("**after fine-tuning with your symbols**")
        percentile_metric(st, "error", after, before)
        percentile_metric(st, "distance", apart_after, apart_before)
    map_after.echarts_chart(symbol_map(t_points, data.y_test[t_idx], t_idx, t_placed, "after fine-tuning"),
                            height=MAP_HEIGHT, key=f"sym-map-{job_key}",
                            alt=f"PCA map of the fine-tuned codes of {n_points:,} test digits, your symbols as stars")
else:
    map_after.caption("The map after fine-tuning appears here.")
st.caption(f"Each map is a PCA of the model's codes of {n_points:,} test digits, coloured by digit; your examples "
           "are the black stars. PCA keeps only the two directions in which the codes vary most: symbols that "
           "overlap digits here may still lie apart in the full code.")
