"""Charts (plotly figures, and ECharts options for the Embeddings map and the charts redrawn while a job
trains) and image tiles sized for a projector.

Every function returns a figure or an image array and draws nothing itself, so pages decide where
things go and tests can inspect them.
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from aecore.import_lock import heavy_imports
from aecore.pictures import tile_images as tile  # noqa: F401 (the pages' figures.tile)

# Ten colours that stay distinct on a projector (Tableau 10), one per class.
BAR_POSITIVE = (78, 121, 167)  # the first two class colours, as RGB
BAR_NEGATIVE = (225, 87, 89)
# Up to this many points a scatter is SVG, above it WebGL, whose context costs 0.2-0.3 s in software (bench.map_redraw).
SVG_MAX_POINTS = 1000
CLASS_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
FONT = dict(size=16)


def _figure() -> go.Figure:
    """An empty figure, once pandas is fully imported. plotly looks pandas up in `sys.modules` without
    importing it and then reads `pandas.Series`, so a figure built while another session's thread is
    still importing pandas (scikit-learn imports it, under `heavy_imports`) fails with "partially
    initialized module 'pandas'": bench.load_test saw it twice in 30 sessions."""
    with heavy_imports:  # waits for an import in progress; a no-op lookup once pandas is loaded
        import pandas  # noqa: F401
    return go.Figure()


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), font=FONT,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return fig


def _loss_series(runs: Sequence[tuple[str, list[dict]]], parts: Sequence[str], max_points: int | None):
    """(name, colour, train points, validation points) per (run, part), the points as (epoch, loss)."""
    series = [(label, snaps, part) for label, snaps in runs for part in parts]
    for i, (label, snaps, part) in enumerate(series):
        name = label if len(parts) == 1 else (part if len(runs) == 1 else f"{label} · {part}")
        train = [(s["global_step"] / max(s["steps"], 1), s["train"][part]) for s in snaps if part in s["train"]]
        if max_points and len(train) > max_points:
            train = train[::math.ceil(len(train) / max_points)] + train[-1:]
        val = [(s["global_step"] / max(s["steps"], 1), s["val"][part]) for s in snaps
               if s["event"] == "epoch" and s.get("val") and part in s["val"]]
        yield name, CLASS_COLORS[i % len(CLASS_COLORS)], train, val


def loss_figure(runs: Sequence[tuple[str, list[dict]]], parts: Sequence[str] = ("loss",),
                height: int = 380, title: str = "", max_points: int | None = None) -> go.Figure:
    """Train (line, per progress snapshot) and validation (dashed, per epoch) curves.

    `runs` is a list of (label, progress snapshots); one colour per (run, part). The x axis counts
    epochs over all stages, fractional within an epoch. `max_points` thins each train line to about
    that many points (the last one kept).
    """
    fig = _figure()
    for name, color, train, val in _loss_series(runs, parts, max_points):
        if train:
            x, y = zip(*train)
            fig.add_scatter(x=x, y=y, mode="lines", name=f"{name} · train", line=dict(color=color, width=3))
        if val:
            x, y = zip(*val)
            fig.add_scatter(x=x, y=y, mode="lines+markers", name=f"{name} · validation",
                            line=dict(color=color, width=2, dash="dash"), marker=dict(size=9))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=parts[0] if len(parts) == 1 else "loss parts")
    return _layout(fig, height, title=title)


# ---- live charts -----------------------------------------------------------------------------------
# Live charts are keyed ECharts charts, updated in place without animation (plotly remounts): a watching
# browser takes less of the CPU training needs (bench.dashboard_overhead).

def _class_series(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], marker_size: int,
                  indexed: bool = False) -> list[dict]:
    """One ECharts scatter series per class present, id "class-<c>", in its class colour. Each point is
    [x, y] or, `indexed`, [x, y, its index in `points`], which the tooltip then shows."""
    points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels)
    series = []
    for c, name in enumerate(class_names):
        members = labels == c
        if not members.any():
            continue
        data = np.round(points[members], 4)
        extra = {}
        if indexed:
            data = np.column_stack([data, np.flatnonzero(members)])
            extra = dict(tooltip=dict(formatter=f"{name} · #{{@[2]}}"))
        series.append(dict(type="scatter", id=f"class-{c}", name=str(name), data=data.tolist(),
                           symbolSize=marker_size, itemStyle=dict(color=CLASS_COLORS[c % 10], opacity=0.8), **extra))
    return series


def _live_layout(title: str, x_name: str, y_name: str, series: list[dict], *,
                 legend: dict | None = None, grid: dict | None = None, **axes) -> dict:
    axis = dict(type="value", nameLocation="middle", nameTextStyle=dict(fontSize=FONT["size"]),
                axisLabel=dict(fontSize=14))
    return dict(animation=False, title=dict(text=title, textStyle=dict(fontSize=FONT["size"])),
                legend=legend or dict(top=30, left=0, textStyle=dict(fontSize=14)), tooltip=dict(trigger="item"),
                grid=grid or dict(left=70, right=20, top=80, bottom=55),
                xAxis=axis | dict(name=x_name, nameGap=32) | axes.get("x", {}),
                yAxis=axis | dict(name=y_name, nameGap=55, scale=True) | axes.get("y", {}), series=series)


def live_loss_chart(runs: Sequence[tuple[str, list[dict]]], parts: Sequence[str] = ("loss",),
                    title: str = "", max_points: int | None = None) -> dict:
    """`loss_figure`'s curves as an ECharts option, for a chart redrawn while a job trains."""
    series = []
    for name, color, train, val in _loss_series(runs, parts, max_points):
        if train:
            series.append(dict(type="line", name=f"{name} · train", data=train, showSymbol=False,
                               color=color, lineStyle=dict(width=3)))
        if val:
            series.append(dict(type="line", name=f"{name} · validation", data=val, symbolSize=9,
                               color=color, lineStyle=dict(width=2, type="dashed")))
    return _live_layout(title, "epoch", parts[0] if len(parts) == 1 else "loss parts", series, x=dict(min=0))


def live_scatter_chart(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str) -> dict:
    """2-D codes coloured by class as an ECharts option, for the latent scatter forming during training.
    The axes follow the points (codes spread out as training goes on); the legend stands beside them."""
    series = _class_series(points, labels, class_names, marker_size=6)
    return _live_layout(title, "", "", series, x=dict(scale=True), y=dict(scale=True),
                        legend=dict(orient="vertical", right=0, top=40, textStyle=dict(fontSize=14)),
                        grid=dict(left=50, right=110, top=50, bottom=30))


def latent_scatter(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                   title: str = "", height: int = 560, marker_size: int = 6,
                   extra: dict[str, np.ndarray] | None = None, axis_range: float | None = None) -> go.Figure:
    """Scatter of 2-D codes coloured by class; each point's index is in `customdata` for selections.

    `extra` adds labelled highlight markers, e.g. {"your drawing": array of shape (M, 2)}.
    """
    fig = _figure()
    idx = np.arange(len(points))
    add_points = fig.add_scatter if len(points) <= SVG_MAX_POINTS else fig.add_scattergl
    for c, name in enumerate(class_names):
        m = labels == c
        if not m.any():
            continue
        add_points(x=points[m, 0], y=points[m, 1], mode="markers", name=str(name),
                   customdata=idx[m], marker=dict(size=marker_size, color=CLASS_COLORS[c % 10], opacity=0.8),
                   hovertemplate=f"{name} · #%{{customdata}}<extra></extra>")
    for name, pts in (extra or {}).items():
        pts = np.atleast_2d(pts)
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers+text", name=name, text=[name] * len(pts),
                        textposition="top center",
                        marker=dict(size=22, color="black", symbol="star", line=dict(color="white", width=2)))
    if axis_range is not None:
        fig.update_xaxes(range=[-axis_range, axis_range])
        fig.update_yaxes(range=[-axis_range, axis_range])
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    _layout(fig, height, title=title, dragmode="select")
    fig.update_layout(legend=dict(orientation="v", x=1.02, y=1, itemsizing="constant"))  # not under the title
    return fig


# ---- the Embeddings map ----------------------------------------------------------------------------
# An ECharts chart rather than plotly: a new map of 5,000 points draws sooner, with less browser CPU (bench.map_redraw).
STAR = "path://M50,0 L61,35 L98,35 L68,57 L79,91 L50,70 L21,91 L32,57 L2,35 L39,35 Z"
MAP_TOOLS = ["rect", "polygon", "clear"]  # box and lasso selection, and clearing it
MAP_MARGIN = dict(top=50, bottom=30, left=50, right=130)  # pixels around the plot: title, legend, ticks
MAP_TOOLBOX = dict(right=10, top=5, itemSize=16, itemGap=10, padding=0)  # tests/browser.py looks in this band
MAP_BUTTONS = ("rect", "polygon", "clear", "zoom", "back", "saveAsImage")  # the toolbox's buttons, left to right


def map_chart(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *, title: str,
              height: int = 680, marker_size: int = 6, extra: dict[str, np.ndarray] | None = None,
              equal_axes: bool = False) -> dict:
    """The Embeddings map as an ECharts option: 2-D points coloured by class, box and lasso selection
    (read back with `app.maps.selected_indices`), box zoom, and a PNG download.

    Each class is a series with id "class-<c>" whose points are [x, y, index into `points`]; the
    tooltip names the class and the index. `extra` adds labelled stars, e.g. {"your drawing": (M, 2)}.
    `equal_axes` draws a square plot with one scale on both axes (a PCA map's units mean something;
    t-SNE's and UMAP's do not, and fill the space).
    """
    points = np.asarray(points, dtype=np.float64)
    series = _class_series(points, labels, class_names, marker_size, indexed=True)
    for name, pts in (extra or {}).items():
        pts = np.round(np.atleast_2d(np.asarray(pts, dtype=np.float64)), 4).tolist()
        series.append(dict(type="scatter", id=f"extra-{name}", name=name, data=pts, symbol=STAR, symbolSize=26,
                           z=5, itemStyle=dict(color="black", borderColor="white", borderWidth=1.5),
                           label=dict(show=True, position="top", formatter=name, fontSize=14),
                           tooltip=dict(formatter=name)))
    axis = dict(type="value", scale=True, axisLabel=dict(fontSize=13))
    grid = dict(MAP_MARGIN)
    if equal_axes and len(points):
        side = height - grid["top"] - grid["bottom"]
        low, high = points.min(axis=0), points.max(axis=0)
        half = float((high - low).max()) * 0.525 or 1.0  # both axes span the larger extent, 5% to spare
        mid = (low + high) / 2
        grid = dict(top=grid["top"], width=side, height=side, left="center")
        no_ends = dict(showMinLabel=False, showMaxLabel=False)  # the ends are not round numbers
        x_axis = axis | dict(min=float(mid[0] - half), max=float(mid[0] + half), axisLabel=axis["axisLabel"] | no_ends)
        y_axis = axis | dict(min=float(mid[1] - half), max=float(mid[1] + half), axisLabel=axis["axisLabel"] | no_ends)
    else:
        x_axis = y_axis = axis
    return dict(
        animation=False,
        title=dict(text=title, left=0, textStyle=dict(fontSize=FONT["size"])),  # the toolbox on its right
        legend=dict(orient="vertical", right=0, top=MAP_MARGIN["top"], textStyle=dict(fontSize=14)),
        tooltip=dict(trigger="item"),
        grid=grid, xAxis=x_axis, yAxis=y_axis, series=series,
        brush=dict(toolbox=MAP_TOOLS, xAxisIndex=0, outOfBrush=dict(colorAlpha=0.15)),
        toolbox=MAP_TOOLBOX | dict(feature=dict(
            brush=dict(type=MAP_TOOLS, title=dict(rect="Select with a box", polygon="Select with a lasso",
                                                  clear="Clear the selection")),
            dataZoom=dict(filterMode="none", title=dict(zoom="Zoom into a box", back="Zoom back")),
            saveAsImage=dict(title="Save as PNG", pixelRatio=2))),
    )


def map_frame(title: str, message: str) -> dict:
    """`map_chart`'s empty frame, shown where a map will appear while it is fitted: `message` in the
    middle. The browser loads its charting code meanwhile, instead of after the fit."""
    return dict(animation=False, title=dict(text=title, left=0, textStyle=dict(fontSize=FONT["size"])),
                graphic=[dict(type="text", left="center", top="middle",
                              style=dict(text=message, fontSize=16, fill="#777"))])


def code_bars(code: np.ndarray, width: int = 280, height: int = 96, max_bar: int = 36) -> np.ndarray:
    """The code vector as a bar-chart picture, (height, width, 3) uint8: one bar per unit (at most
    `max_bar` pixels wide), blue above the zero line in the middle and red below, scaled to the largest
    |value| (so give that in a caption).

    A picture rather than a plotly chart: the Draw page redraws one per model after every stroke,
    and three plotly charts measured ~80 ms of each rerun (serialising, and the browser redrawing
    them on the same cores).
    """
    code = np.nan_to_num(np.asarray(code, dtype=np.float32).ravel())
    picture = np.full((height, width, 3), 255, dtype=np.uint8)
    zero, reach = height // 2, height // 2 - 1  # the zero line's row; rows a bar of |value| = scale spans
    picture[zero] = (150, 150, 150)
    if code.size == 0:
        return picture
    scale = float(np.abs(code).max()) or 1.0
    step = min(width / code.size, max_bar)
    start = (width - step * code.size) / 2  # a few wide bars sit in the middle
    edges = (start + step * np.arange(code.size + 1)).round().astype(int)
    for value, left, right in zip(code, edges[:-1], edges[1:]):
        right = max(left + 1, right - (1 if right - left > 3 else 0))  # a gap between wide bars
        size = int(round(abs(value) / scale * reach))
        if value >= 0:
            picture[zero - size:zero, left:right] = BAR_POSITIVE
        else:
            picture[zero + 1:zero + 1 + size, left:right] = BAR_NEGATIVE
    return picture


def heatmap(matrix: np.ndarray, labels: Sequence[str], title: str, zmin: float = -1, zmax: float = 1,
            height: int = 420) -> go.Figure:
    fig = _figure()
    fig.add_trace(go.Heatmap(z=matrix, x=list(labels), y=list(labels), zmin=zmin, zmax=zmax,
                               colorscale="RdBu", reversescale=True))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height, title=title)


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so pixels stay crisp when the browser shows the image large."""
    return np.kron(np.clip(image, 0, 1), np.ones((scale, scale), dtype=np.float32))


def inline_png(image: np.ndarray) -> str:
    """A small picture (values in [0, 1], or uint8 RGB) as a PNG data URL for `st.image`: it travels in
    the page update itself, so the browser shows it without fetching it from the server afterwards."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def digit_image(image: np.ndarray, size: int = 168) -> np.ndarray:
    """A single 28×28 digit enlarged to about `size` pixels."""
    image = np.asarray(image, dtype=np.float32).reshape(28, 28)
    return enlarge(image, max(1, size // 28))


def probe_scatter(snapshot: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str,
                  axis_range: float | None = None, height: int = 480) -> go.Figure:
    """The probe digits' 2-D codes at one epoch (PCA-2 of larger codes), coloured by class."""
    return latent_scatter(np.asarray(snapshot), np.asarray(labels), class_names, title=title,
                          height=height, axis_range=axis_range, marker_size=5)


def probe_range(snapshots: Sequence[np.ndarray]) -> float:
    """One axis range for every epoch, so the replay does not jump."""
    return float(max(np.abs(np.asarray(s)).max() for s in snapshots) * 1.05) if len(snapshots) else 1.0


def stage_figure(stages: dict[str, list[dict]], part: str = "loss", *, splits: Sequence[str] = ("val",),
                 title: str = "", y_title: str | None = None, height: int = 380,
                 percent: bool = False) -> go.Figure:
    """`part` of each training stage against the epoch within that stage: validation solid, train dotted.

    `stages` maps a stage name to its epoch records (the stored history's entries of that stage), so
    e.g. fine-tuning and the random-init baseline share one x axis.
    """
    fig = _figure()
    for i, (name, entries) in enumerate(stages.items()):
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        for split in splits:
            points = [(e["epoch"], e[split][part]) for e in entries if (e.get(split) or {}).get(part) is not None]
            if not points:
                continue
            x, y = zip(*points)
            label = name if len(splits) == 1 else (split if len(stages) == 1 else f"{name} · {split}")
            dotted = split == "train" and len(splits) > 1
            fig.add_scatter(x=x, y=y, mode="lines+markers", name=label, marker=dict(size=6 if dotted else 9),
                            line=dict(color=color, width=2 if dotted else 3, dash="dot" if dotted else "solid"))
    longest = max((len(v) for v in stages.values()), default=0)
    fig.update_xaxes(title="epoch", dtick=1 if longest <= 12 else None)
    fig.update_yaxes(title=y_title or part, tickformat=".0%" if percent else None)
    _layout(fig, height, title=dict(text=title, yref="container", y=0.98, yanchor="top"))
    return fig.update_layout(margin=dict(t=80))  # the title on top, the legend between it and the plot
