"""The Streamlit page `bench.map_redraw` times: a radio switching between two maps, drawn one way.

`?draw=` picks how: `picture` (an st.image of the points, drawn on the server), `echarts` (the
Embeddings page's `figures.map_chart`), `svg` or `webgl` (the other pages' `figures.latent_scatter`,
its point traces forced to one plotly trace type), and `?points=` how many points each map has. Not
part of the dashboard: run it through the benchmark.
"""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.figures import CLASS_COLORS, latent_scatter, map_chart

draw = st.query_params.get("draw", "webgl")
points = int(st.query_params.get("points", 5000))
which = st.radio("Map", ["A", "B"], horizontal=True)


@st.cache_resource
def codes(which: str, points: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0 if which == "A" else 1)
    return rng.normal(size=(points, 2)).astype(np.float32), np.arange(points) % 10


@st.cache_resource
def figure(which: str, points: int, trace_type: str):
    xy, labels = codes(which, points)
    fig = latent_scatter(xy, labels, [str(c) for c in range(10)], title=which, height=680)
    return go.Figure([{**trace.to_plotly_json(), "type": trace_type} for trace in fig.data], fig.layout)


@st.cache_resource
def picture(which: str, points: int) -> np.ndarray:
    """The points as 5-pixel squares on a 1000×680 white picture."""
    xy, labels = codes(which, points)
    out = np.full((680, 1000, 3), 255, dtype=np.uint8)
    pix = ((xy - xy.min(0)) / np.ptp(xy, axis=0) * [990, 670]).astype(int)
    colors = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLORS], dtype=np.uint8)
    for dy in range(5):
        for dx in range(5):
            out[pix[:, 1] + dy, pix[:, 0] + dx] = colors[labels]
    return out


if draw == "picture":
    st.image(picture(which, points))
elif draw == "echarts":
    xy, labels = codes(which, points)
    st.echarts_chart(map_chart(xy, labels, [str(c) for c in range(10)], title=which), height=680,
                     on_select="rerun", alt=which, key=f"map-{which}")
else:
    st.plotly_chart(figure(which, points, "scatter" if draw == "svg" else "scattergl"), width="stretch",
                    on_select="rerun", selection_mode=("box", "lasso"), key=f"map-{which}")
st.caption(f"shown {which}")
