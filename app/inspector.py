"""The Filters page's unit inspector: a grid of first-layer filters to click, and for the clicked unit its
weights large, the test digits that excite it most, its activation on the user's drawing (or on a
picked test digit) and, for a sparse autoencoder, its mean activation against the target ρ. The unit
and the test digit are settings kept across reruns and pages (`app.settings`, URL `unit`, `udigit`)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from aecore.spec import RunSpec
from aecore.units import share_below, sparsity_target, unit_activations
from app import controls, drawing, exports, figures, resources, settings

MODEL_KEY = "unit_model"  # session key of the inspected model
UNIT_KEY = "unit_n"  # session key of the inspected unit
DIGIT_KEY = "unit_digit"  # session key of the test digit shown while there is no drawing
GRID_HEIGHT = 330  # pixels: the clickable filters, about as tall as their column is wide at 1280x720


def _has_filters(spec: RunSpec) -> bool:
    return spec.family != "conv_vae"


def _clicked_unit(chart_key: str) -> None:
    """A click on the filter grid (its selection event) makes the clicked filter the inspected unit."""
    event = st.session_state.get(chart_key) or {}
    points = (event.get("selection") or {}).get("points") or []
    if not points:  # a click on the picked filter again clears the selection: keep the unit
        return
    unit = points[-1].get("customdata")
    unit = unit[0] if isinstance(unit, (list, tuple)) and unit else unit
    if isinstance(unit, (int, float)):
        st.session_state[UNIT_KEY] = int(unit)


def unit_controls(n_units: int) -> int:
    """The inspected unit's number box (kept in the URL as `unit`); a click on the grid sets it too."""
    settings.init_from_query(UNIT_KEY, "unit", 0, cast=int, lo=0, hi=n_units - 1)
    unit = st.number_input(f"Unit (0–{n_units - 1})", 0, n_units - 1, step=1, key=UNIT_KEY,
                           help="Or click a filter in the grid below.")
    settings.set_query(unit=unit)
    return int(unit)


def inspector_section(dataset_name: str, n_filters: int, default: RunSpec) -> None:
    """The unit inspector on a model picked here (starting at `default`), its grid of `n_filters` filters."""
    st.subheader("Unit inspector: one filter up close",
                 help="Each filter belongs to one hidden unit of the first layer: the unit's output is large "
                      "when a digit's ink lies on the filter's positive (blue) pixels.")
    _, trained, job = resources.find_model(default)
    picked_before = st.session_state.get(MODEL_KEY, settings.kept_value(MODEL_KEY)) or st.query_params.get("umodel")
    if trained is None and job is not None and not job.done and not picked_before:
        st.caption("The inspector opens on the lecture's denoising autoencoder once it is trained (its progress "
                   "is shown above).")  # one progress panel per job on the page is enough
        return
    picker_col, unit_col = st.columns([3, 1], vertical_alignment="bottom")
    with picker_col:
        picked = controls.model_picker(dataset_name, label="Model", default=default, key=MODEL_KEY,
                                       param="umodel", accept=_has_filters, why="The inspector needs a model.")
    if picked is None:
        return
    key, stored = picked
    summary = exports.unit_summary_of(key, dataset_name)
    found = exports.filter_picture(key, n_filters)
    if summary is None or found is None:
        st.info("This model starts with a convolution: it has no 28×28 filters to inspect.")
        return
    with unit_col:
        unit = unit_controls(summary.n_units)
    picture, shown = found
    data = resources.dataset(dataset_name)
    grid_col, detail_col = st.columns([2, 3], gap="large")
    with grid_col:
        chart_key = f"unit_grid_{key}_{shown}"  # a new grid starts with no selection
        st.plotly_chart(figures.filter_picker_figure(picture, shown, unit, height=GRID_HEIGHT), key=chart_key,
                        on_select=lambda: _clicked_unit(chart_key), selection_mode="points", width="stretch",
                        config={"displayModeBar": False})
        framed = "framed in orange" if unit < shown else f"not among the first {shown}"
        st.caption(f"Click a filter to inspect its unit. First {shown} of {summary.n_units} filters; "
                   f"unit {unit} is {framed}.")
    with detail_col:
        weights = stored.model.first_layer_weights()[unit].detach().cpu().numpy()  # (784,)
        top, values = summary.top[unit], summary.top_values[unit]
        left, right = st.columns(2, gap="medium")
        left.image(figures.signed_picture(weights), width="stretch",
                   caption=f"Unit {unit}'s 784 weights: blue pixels excite it, orange ones inhibit it")
        spread = f"{values[-1]:.2f} to {values[0]:.2f}" if f"{values[-1]:.2f}" != f"{values[0]:.2f}" else \
            f"{values[0]:.2f} for all {len(top)}"
        right.image(figures.enlarge(figures.tile(data.x_test[top] / 255.0, ncols=3), 3), width="stretch",
                    caption=f"The {len(top)} of {len(data.x_test):,} test digits that excite it most "
                            f"(activation {spread})")
        digit, name = drawing.drawing_or_test_digit(dataset_name, DIGIT_KEY, "udigit")
        value = float(unit_activations(stored.model, np.asarray(digit, dtype=np.float32)[None])[0, unit])
        thumb, words_col = st.columns([1, 4], vertical_alignment="center")
        thumb.image(figures.digit_image(digit, 84), width="stretch")
        words_col.markdown(f"**{name}** drives unit {unit} to **{value:.2f}**: higher than "
                           f"{share_below(summary, unit, value):.0%} of the test digits do.")
    rho = sparsity_target(stored.model)
    if rho is not None:
        mean = float(summary.mean[unit])
        above = int((summary.mean > rho).sum())
        st.markdown(f"**Sparsity**: unit {unit}'s mean activation over the test digits is **{mean:.3f}**; the "
                    f"penalty pulls every unit's mean towards ρ = {rho:g}. {above} of {summary.n_units} units "
                    f"average above ρ.")
        st.plotly_chart(figures.unit_means_figure(summary.mean, rho, unit), width="stretch",
                        config={"displayModeBar": False})
