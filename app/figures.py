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

BAR_POSITIVE = (1, 115, 178)  # the first and fourth class colours, as RGB
BAR_NEGATIVE = (213, 94, 0)
# Up to this many points a scatter is SVG, above it WebGL, whose context costs 0.2-0.3 s in software (bench.map_redraw).
SVG_MAX_POINTS = 1000
# One colour per class, told apart with the common colour-vision deficiencies: seaborn's "colorblind"
# palette, Okabe & Ito's palette extended to ten (https://seaborn.pydata.org/tutorial/color_palettes.html).
CLASS_COLORS = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
                "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9"]
TEXT_PX = 16  # the smallest chart text, read from the back of a lecture room
PROJECTOR_TEXT_PX = 22  # the same in the projector view (app.projector)
TEXT_COLOR = "#1a1a1a"  # near-black: plotly's default #444 and ECharts' grey axis labels fade on a projector


def text_px() -> int:
    """Chart text size for this session: TEXT_PX, or PROJECTOR_TEXT_PX in the projector view."""
    from app import projector  # reads the session's setting; outside a page it is off

    return PROJECTOR_TEXT_PX if projector.is_on() else TEXT_PX


def font() -> dict:
    """The plotly font of every chart: `text_px()` pixels, near-black."""
    return dict(size=text_px(), color=TEXT_COLOR)


def _text(**kw) -> dict:
    """An ECharts text style at the chart text size, near-black."""
    return dict(fontSize=text_px(), color=TEXT_COLOR) | kw


def _figure() -> go.Figure:
    """An empty figure, once pandas is fully imported. plotly looks pandas up in `sys.modules` without
    importing it and then reads `pandas.Series`, so a figure built while another session's thread is
    still importing pandas (scikit-learn imports it, under `heavy_imports`) fails with "partially
    initialized module 'pandas'": bench.load_test saw it twice in 30 sessions."""
    with heavy_imports:  # waits for an import in progress; a no-op lookup once pandas is loaded
        import pandas  # noqa: F401
    return go.Figure()


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    """Height, margins, and `font()` on every text of the figure: Streamlit's plotly theme sets its own
    smaller, grey sizes on ticks, axis titles and legends, which only an explicit font overrides."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return _fonts(fig)


def _fonts(fig: go.Figure) -> go.Figure:
    """`font()` on every text of the figure; again after a builder sets a title as plain text."""
    text = font()
    fig.update_layout(font=text, title_font=text, legend_font=text, hoverlabel_font=text)
    fig.update_xaxes(tickfont=text, title_font=text)
    fig.update_yaxes(tickfont=text, title_font=text)
    fig.update_traces(colorbar=dict(tickfont=text), selector=dict(type="heatmap"))
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
    if not title:
        return _layout(fig, height)
    _layout(fig, height, title=dict(text=title, yref="container", y=0.98, yanchor="top"))
    return fig.update_layout(margin=dict(t=80))  # the title on top, the legend between it and the plot


# ---- live charts -----------------------------------------------------------------------------------
# Live charts are keyed ECharts charts, updated in place without animation (plotly remounts): a watching
# browser takes less of the CPU training needs (bench.dashboard_overhead).

def _class_series(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], marker_size: int,
                  indexed: bool = False, ids: np.ndarray | None = None, sheet_columns: int = 0) -> list[dict]:
    """One ECharts scatter series per class present, id "class-<c>", in its class colour. Each point is
    [x, y] or, `indexed`, [x, y, its index in `points`, its id (`ids`, default the index), and with
    `sheet_columns` its picture's x and y offsets in a `digit_sheet` of that many columns]."""
    points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels)
    ids = np.arange(len(points)) if ids is None else np.asarray(ids)
    series = []
    for c, name in enumerate(class_names):
        members = labels == c
        if not members.any():
            continue
        data = np.round(points[members], 4)
        if indexed:
            at = np.flatnonzero(members)
            columns = [data, at, ids[at]]
            if sheet_columns:
                columns += [at % sheet_columns * TOOLTIP_DIGIT_PX, at // sheet_columns * TOOLTIP_DIGIT_PX]
            data = np.column_stack(columns)
        series.append(dict(type="scatter", id=f"class-{c}", name=str(name), data=data.tolist(),
                           symbolSize=marker_size, itemStyle=dict(color=CLASS_COLORS[c % 10], opacity=0.8)))
    return series


def _live_layout(title: str, x_name: str, y_name: str, series: list[dict], *,
                 legend: dict | None = None, grid: dict | None = None, **axes) -> dict:
    axis = dict(type="value", nameLocation="middle", nameTextStyle=_text(), axisLabel=_text())
    return dict(animation=False, title=dict(text=title, textStyle=_text()), textStyle=_text(),
                legend=legend or dict(top=30, left=0, textStyle=_text()), tooltip=dict(trigger="item"),
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
                        legend=dict(orient="vertical", right=0, top=40, textStyle=_text()),
                        grid=dict(left=50, right=110, top=50, bottom=30))


def latent_scatter(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                   title: str = "", height: int = 560, marker_size: int = 6,
                   extra: dict[str, np.ndarray] | None = None, equal_scale: bool = True) -> go.Figure:
    """Scatter of 2-D codes coloured by class; each point's index is in `customdata` for selections.

    `extra` adds labelled highlight markers, e.g. {"your drawing": array of shape (M, 2)}.
    `equal_scale` keeps one unit as long on both axes.
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
    if equal_scale:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    _layout(fig, height, title=title, dragmode="select")
    # beside the plot, not under the title
    fig.update_layout(legend=dict(orientation="v", x=1.02, y=1, yanchor="top", itemsizing="constant"))
    return fig


CLICK_LAYER_SIDE = 40  # the Latent grid's map: a 40x40 layer of invisible points makes every spot clickable


def grid_map_figure(codes: np.ndarray, labels: np.ndarray, class_names: Sequence[str], grid_codes: np.ndarray,
                    path: np.ndarray | None = None, drawing_code: np.ndarray | None = None,
                    height: int = 520) -> go.Figure:
    """The Latent grid's map: the test codes coloured by class, the grid's outline (dashed) and the
    interpolation `path`, over an invisible layer of points so that a click anywhere picks a spot
    (its customdata is -1; a digit's point carries its test index)."""
    extra = {"your drawing": drawing_code} if drawing_code is not None else None
    fig = latent_scatter(codes, labels, class_names, height=height, marker_size=5, extra=extra)
    gx0, gy0 = grid_codes.min(axis=0)
    gx1, gy1 = grid_codes.max(axis=0)
    fig.add_shape(type="rect", x0=gx0, x1=gx1, y0=gy0, y1=gy1, line=dict(color="#333", width=2, dash="dash"))
    if path is not None:
        fig.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="interpolation", showlegend=False,
                        line=dict(color="black", width=3), marker=dict(size=7, color="black"), hoverinfo="skip")
    x0, x1, y0, y1 = robust_box(codes)
    x0, x1, y0, y1 = min(x0, gx0), max(x1, gx1), min(y0, gy0), max(y1, gy1)
    pad = max(0.08 * max(x1 - x0, y1 - y0), 0.1)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, CLICK_LAYER_SIDE), np.linspace(y0, y1, CLICK_LAYER_SIDE))
    fig.add_scattergl(x=gx.ravel(), y=gy.ravel(), mode="markers", showlegend=False, name="",
                      customdata=np.full(gx.size, -1), marker=dict(size=14, color="rgba(0,0,0,0)"),
                      selected=dict(marker=dict(size=9, color="rgba(0,0,0,0.45)")),  # the picked spot or box shows
                      hovertemplate="z = (%{x:.2f}, %{y:.2f})<extra></extra>")
    fig.update_traces(unselected=dict(marker=dict(opacity=0.8)), selector=lambda t: t.name)  # a pick fades nothing
    # The layer goes underneath, so the digits' points stay on top; the drawing's star goes on top of all.
    layer, *rest = fig.data[-1:] + fig.data[:-1]
    fig.data = (layer, *sorted(rest, key=lambda t: t.name == "your drawing"))
    # constrain="domain": one scale on both axes shrinks the plot, not widening an axis past the codes.
    fig.update_xaxes(range=[x0, x1], title_text="z₁", constrain="domain")
    fig.update_yaxes(range=[y0, y1], title_text="z₂", constrain="domain")
    fig.update_traces(mode="markers", selector=dict(name="your drawing"))  # the legend names the star
    # Streamlit selects a clicked point only outside box-select mode; boxes stay in the toolbar.
    # The legend goes above the plot, so a narrow column leaves the plot its full width.
    fig.update_layout(dragmode="pan", legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom"),
                      margin=dict(l=10, r=10, t=30, b=10))
    return fig


# ---- the Embeddings map ----------------------------------------------------------------------------
# An ECharts chart rather than plotly: a new map of 5,000 points draws sooner, with less browser CPU (bench.map_redraw).
STAR = "path://M50,0 L61,35 L98,35 L68,57 L79,91 L50,70 L21,91 L32,57 L2,35 L39,35 Z"
MAP_TOOLS = ["rect", "polygon", "clear"]  # box and lasso selection, and clearing it
MAP_MARGIN = dict(top=50, bottom=30, left=50, right=130)  # pixels around the plot: title, legend, ticks
MAP_TOOLBOX = dict(right=10, top=5, itemSize=16, itemGap=10, padding=0)  # tests/browser.py looks in this band
MAP_BUTTONS = ("rect", "polygon", "clear", "zoom", "back", "saveAsImage")  # the toolbox's buttons, left to right


def map_chart(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *, title: str,
              subtitle: str = "", height: int = 680, marker_size: int = 6, extra: dict[str, np.ndarray] | None = None,
              equal_axes: bool = False, ids: np.ndarray | None = None, images: np.ndarray | None = None) -> dict:
    """The Embeddings map as an ECharts option: 2-D points coloured by class, box and lasso selection
    (read back with `app.maps.selected_indices`), box zoom, and a PNG download.

    Each class is a series with id "class-<c>" whose points are [x, y, index into `points`, id, ...];
    hovering a point shows its digit (`images`, (N, 28, 28) uint8, one per point, up to
    TOOLTIP_MAX_IMAGES of them), its class and its id (`ids`, e.g. test indices; default the index).
    `extra` adds labelled stars, e.g. {"your drawing": (M, 2)}. `equal_axes` draws a square plot with
    one scale on both axes (a PCA map's units mean something; t-SNE's and UMAP's do not, and fill the space).
    """
    points = np.asarray(points, dtype=np.float64)
    with_images = images is not None and 0 < len(images) <= TOOLTIP_MAX_IMAGES
    sheet, columns = digit_sheet(images) if with_images else (None, 0)
    series = _class_series(points, labels, class_names, marker_size, indexed=True, ids=ids, sheet_columns=columns)
    for name, pts in (extra or {}).items():
        pts = np.round(np.atleast_2d(np.asarray(pts, dtype=np.float64)), 4).tolist()
        series.append(dict(type="scatter", id=f"extra-{name}", name=name, data=pts, symbol=STAR, symbolSize=26,
                           z=5, itemStyle=dict(color="black", borderColor="white", borderWidth=1.5),
                           label=_text(show=True, position="top", formatter=name),
                           tooltip=dict(formatter=name)))
    axis = dict(type="value", scale=True, axisLabel=_text())
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
        title=dict(text=title, subtext=subtitle, left=0, textStyle=_text(), subtextStyle=_text(),
                   itemGap=4),  # the toolbox on its right
        legend=dict(orient="vertical", right=0, top=MAP_MARGIN["top"], textStyle=_text()), textStyle=_text(),
        tooltip=dict(trigger="item", formatter=_digit_tooltip(sheet, columns), textStyle=_text()),
        grid=grid, xAxis=x_axis, yAxis=y_axis, series=series,
        brush=dict(toolbox=MAP_TOOLS, xAxisIndex=0, outOfBrush=dict(colorAlpha=0.15)),
        toolbox=MAP_TOOLBOX | dict(feature=dict(
            brush=dict(type=MAP_TOOLS, title=dict(rect="Select with a box", polygon="Select with a lasso",
                                                  clear="Clear the selection")),
            dataZoom=dict(filterMode="none", title=dict(zoom="Zoom into a box", back="Zoom back")),
            saveAsImage=dict(title="Save as PNG", pixelRatio=2))),
    )


SMALL_MAP_MARGIN = dict(top=36, bottom=30, left=36)  # pixels: the title above, tick labels below and left


def small_map_chart(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *, title: str,
                    height: int = 200) -> dict:
    """`map_chart` at the side of another map: square axes, no legend (the big map's colours), no toolbox."""
    chart = map_chart(points, labels, class_names, title=title, height=height, marker_size=3, equal_axes=True)
    side = height - SMALL_MAP_MARGIN["top"] - SMALL_MAP_MARGIN["bottom"]
    chart["grid"] = dict(SMALL_MAP_MARGIN, width=side, height=side)
    chart["legend"] = dict(show=False)
    chart["tooltip"] = dict(trigger="item", formatter="{a}", textStyle=_text())
    for key in ("brush", "toolbox"):
        chart.pop(key)
    return chart


TOOLTIP_DIGIT_PX = 84  # a digit in the map's tooltip: 28 pixels, three times
TOOLTIP_MAX_IMAGES = 5000  # above this many points the tooltip names the digit only: ~170 bytes of PNG each


def digit_sheet(images: np.ndarray) -> tuple[str, int]:
    """(a PNG data URL of `images` (N, 28, 28) uint8 tiled row by row, the number of columns): the
    pictures a map's tooltip crops one digit from."""
    images = np.asarray(images, dtype=np.uint8)
    columns = int(np.ceil(np.sqrt(len(images))))
    rows = -(-len(images) // columns)
    sheet = np.zeros((rows * 28, columns * 28), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = image.reshape(28, 28)
    return inline_png(sheet), columns


def _digit_tooltip(sheet: str | None, columns: int) -> str:
    """The map's tooltip template: the hovered digit's picture cut from `sheet`, its class and id."""
    words = "{a} · test digit #{@[3]}"
    if sheet is None:
        return words
    side = TOOLTIP_DIGIT_PX
    picture = (f'<div style="width:{side}px;height:{side}px;background:url({sheet}) '
               f'-{{@[4]}}px -{{@[5]}}px / {columns * side}px auto no-repeat;image-rendering:pixelated"></div>')
    return picture + words


def map_frame(title: str, message: str) -> dict:
    """`map_chart`'s empty frame, shown where a map will appear while it is fitted: `message` in the
    middle. The browser loads its charting code meanwhile, instead of after the fit."""
    return dict(animation=False, title=dict(text=title, left=0, textStyle=_text()),
                graphic=[dict(type="text", left="center", top="middle",
                              style=dict(text=message, fontSize=text_px(), fill="#555"))])


def code_bars(code: np.ndarray, width: int = 280, height: int = 96, max_bar: int = 36) -> np.ndarray:
    """The code vector as a bar-chart picture, (height, width, 3) uint8: one bar per unit (at most
    `max_bar` pixels wide), blue above the zero line in the middle and red below, scaled to the largest
    |value| (so give that in a caption).

    A picture rather than a plotly chart: the Draw page redraws one per model after every stroke
    (bench.interaction).
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


def snapshot_label(name: str) -> str:
    """A probe snapshot's name as a student reads it: "train 10" -> "epoch 10", "pretrain layer 2 3" ->
    "pretraining layer 2, epoch 3", "fine-tune 4" -> "fine-tuning, epoch 4"."""
    stage, _, epoch = name.rpartition(" ")
    if not epoch.isdigit():
        return name
    if stage == "train":
        return f"epoch {epoch}"
    stage = {"fine-tune": "fine-tuning"}.get(stage, stage.replace("pretrain ", "pretraining "))
    return f"{stage}, epoch {epoch}"


def robust_box(points: np.ndarray, coverage: float = 0.98) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) holding `coverage` of the 2-D points on each axis: stray points do not
    shrink the rest."""
    tail = (1 - coverage) / 2 * 100
    lo, hi = np.percentile(points, tail, axis=0), np.percentile(points, 100 - tail, axis=0)
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def probe_axes(snapshots: Sequence[np.ndarray], pad: float = 0.08) -> tuple[list[float], list[float]]:
    """([x0, x1], [y0, y1]) holding the union of the snapshots' `robust_box`es, `pad` of its size to
    spare. Give one epoch's codes for axes that fit that epoch: the replay's codes move and shrink as
    they form, and axes shared by all epochs (or set by an outlier) squeezed the last into a blob."""
    if not len(snapshots):
        return [-1.0, 1.0], [-1.0, 1.0]
    boxes = np.array([robust_box(np.asarray(s, dtype=np.float64)) for s in snapshots])
    x0, y0 = boxes[:, 0].min(), boxes[:, 2].min()
    x1, y1 = boxes[:, 1].max(), boxes[:, 3].max()
    dx, dy = max(x1 - x0, 1e-6) * pad, max(y1 - y0, 1e-6) * pad
    return [float(x0 - dx), float(x1 + dx)], [float(y0 - dy), float(y1 + dy)]


def probe_scatter(snapshot: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str,
                  axes: tuple[Sequence[float], Sequence[float]] | None = None, height: int = 480) -> go.Figure:
    """The probe digits' 2-D codes at one epoch (PCA-2 of larger codes), coloured by class, on `axes`
    (from `probe_axes`; default: this epoch's). Each axis fits its data: the two are not one scale."""
    snapshot = np.asarray(snapshot)
    x_range, y_range = axes or probe_axes([snapshot])
    fig = latent_scatter(snapshot, np.asarray(labels), class_names, title=title, height=height, marker_size=6,
                         equal_scale=False)
    fig.update_xaxes(range=list(x_range), title_text="code axis 1")
    return fig.update_yaxes(range=list(y_range), title_text="code axis 2")


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


def posterior_figure(codes: np.ndarray, labels: np.ndarray, class_names: Sequence[str], mu: np.ndarray,
                     sigma: np.ndarray, samples: np.ndarray, *, height: int = 400) -> go.Figure:
    """A VAE's q(z|x) for one digit on a zoom of its 2-D plane: μ (star), the 1σ (solid) and 2σ
    (dashed) ellipses, the codes sampled from it (crosses) and the test codes around it."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    half = max(3.0 * float(sigma.max()), 0.05)  # the 2σ ellipse and the samples fit, with room around
    fig = latent_scatter(codes, labels, class_names, height=height, marker_size=7)
    turn = np.linspace(0, 2 * np.pi, 73)
    for r, dash in ((1, "solid"), (2, "dash")):
        fig.add_scatter(x=mu[0] + r * sigma[0] * np.cos(turn), y=mu[1] + r * sigma[1] * np.sin(turn), mode="lines",
                        name=f"{r}σ", line=dict(color="black", width=3, dash=dash), hoverinfo="skip")
    fig.add_scatter(x=samples[:, 0], y=samples[:, 1], mode="markers", name="samples",
                    marker=dict(symbol="x", size=12, color="#d00", line=dict(width=1)), hoverinfo="skip")
    fig.add_scatter(x=[mu[0]], y=[mu[1]], mode="markers", name="μ",
                    marker=dict(size=20, color="black", symbol="star", line=dict(color="white", width=2)))
    fig.update_xaxes(range=[mu[0] - half, mu[0] + half], title_text="z₁", constrain="domain")
    fig.update_yaxes(range=[mu[1] - half, mu[1] + half], title_text="z₂", constrain="domain")
    fig.update_layout(showlegend=False, dragmode="pan", margin=dict(l=10, r=10, t=10, b=10))
    return fig


def kl_bars(kl_test: Sequence[float], kl_digit: Sequence[float], digit_name: str, *, height: int = 300) -> go.Figure:
    """The KL of each code dimension: its mean over the test digits and for one digit, side by side."""
    fig = _figure()
    dims = [f"z{_SUBSCRIPT.get(d + 1, '_' + str(d + 1))}" for d in range(len(kl_test))]
    fig.add_bar(x=dims, y=list(kl_test), name="test digits' mean", marker_color=CLASS_COLORS[0])
    fig.add_bar(x=dims, y=list(kl_digit), name=digit_name, marker_color=CLASS_COLORS[3])
    fig.update_yaxes(title_text="KL (nats)")
    _layout(fig, height, barmode="group")
    return fig


_SUBSCRIPT = {d: chr(0x2080 + d) for d in range(1, 10)}


# ---- one unit up close (Filters) and denoising ----------------------------------------------------
FILTER_STRIDE = 29  # a tile of `aecore.metrics.filter_grid`: 28 pixels and 1 of padding
PICKED_COLOR = "#d55e00"  # the frame around the inspected filter: the fourth class colour, seen on grey
ERROR_COLORS = ((255, 255, 255), (253, 141, 60), (128, 0, 38))  # error 0, 0.5, 1: white, orange, dark red
ERROR_FRAME = (190, 190, 190)  # a negative "error": the frame around a map, whose own background is white


def filter_picker_figure(picture: np.ndarray, n_shown: int, picked: int | None, height: int = 420) -> go.Figure:
    """The tiled filters (`aecore.metrics.filter_grid`'s picture of the first `n_shown`) as a figure a
    click picks a filter from: each tile's centre is a point whose `customdata` is the unit's index,
    and the hover finds the nearest one. The `picked` unit is framed."""
    import math

    columns = math.ceil(math.sqrt(n_shown))
    units = np.arange(n_shown)
    cx, cy = units % columns * FILTER_STRIDE + 13.5, units // columns * FILTER_STRIDE + 13.5
    fig = _figure()
    fig.add_image(source=inline_png(picture), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")
    fig.add_scatter(x=cx, y=cy, customdata=units, mode="markers", showlegend=False, name="",
                    marker=dict(size=18, color="rgba(0,0,0,0)"),
                    selected=dict(marker=dict(color="rgba(0,0,0,0)")), unselected=dict(marker=dict(opacity=1)),
                    hovertemplate="unit %{customdata}<extra></extra>")
    if picked is not None and 0 <= picked < n_shown:
        x0, y0 = picked % columns * FILTER_STRIDE - 1, picked // columns * FILTER_STRIDE - 1
        fig.add_shape(type="rect", x0=x0, y0=y0, x1=x0 + FILTER_STRIDE, y1=y0 + FILTER_STRIDE,
                      line=dict(color=PICKED_COLOR, width=4))
    side = picture.shape[1]
    fig.update_xaxes(visible=False, range=[-2, side + 1], fixedrange=True)
    fig.update_yaxes(visible=False, range=[picture.shape[0] + 1, -2], fixedrange=True, scaleanchor="x")
    _layout(fig, height, hovermode="closest", hoverdistance=FILTER_STRIDE * 3, dragmode=False,
            clickmode="event+select", plot_bgcolor="white")
    return fig.update_layout(margin=dict(l=0, r=0, t=0, b=0))


def signed_picture(weights: np.ndarray, scale: int = 8) -> np.ndarray:
    """One filter's 784 weights as a (28·scale, 28·scale, 3) uint8 picture: blue where a weight is
    positive, orange-red where negative, white at zero, the strongest |weight| at full colour."""
    w = np.asarray(weights, dtype=np.float64).reshape(28, 28)
    strength = np.abs(w) / (np.abs(w).max() or 1.0)  # (28, 28) in [0, 1]
    colour = np.where((w >= 0)[..., None], np.array(BAR_POSITIVE), np.array(BAR_NEGATIVE))  # (28, 28, 3)
    rgb = 255 - strength[..., None] * (255 - colour)
    return np.kron(rgb, np.ones((scale, scale, 1))).round().astype(np.uint8)


def error_picture(error: np.ndarray) -> np.ndarray:
    """Per-pixel errors in [0, 1], (H, W), as an (H, W, 3) uint8 picture: white where the
    reconstruction is right, orange at 0.5, dark red where it is wrong by the whole range; negative
    values (padding, a frame) grey."""
    raw = np.asarray(error, dtype=np.float64)
    e = np.clip(raw, 0, 1)[..., None]
    low, mid, high = (np.array(c, dtype=np.float64) for c in ERROR_COLORS)
    rgb = np.where(e <= 0.5, low + (mid - low) * (e / 0.5), mid + (high - mid) * ((e - 0.5) / 0.5))
    rgb[raw < 0] = ERROR_FRAME
    return rgb.round().astype(np.uint8)


def unit_means_figure(means: np.ndarray, target: float, picked: int, height: int = 240) -> go.Figure:
    """A histogram of every unit's mean activation, the sparsity target ρ as a dashed line and the
    `picked` unit's mean as a solid one."""
    fig = _figure()
    fig.add_histogram(x=np.asarray(means, dtype=np.float64), nbinsx=40, marker_color="#949494", name="all units",
                      hovertemplate="mean %{x}: %{y} units<extra></extra>")
    fig.add_vline(x=target, line=dict(color=TEXT_COLOR, width=3, dash="dash"))
    fig.add_vline(x=float(means[picked]), line=dict(color=PICKED_COLOR, width=4))
    fig.add_annotation(x=target, y=1, yref="paper", text=f"ρ = {target:g}", showarrow=False, xanchor="left",
                       yanchor="top", xshift=6)
    fig.add_annotation(x=float(means[picked]), y=0.6, yref="paper", text=f"unit {picked}", showarrow=False,
                       xanchor="left", xshift=6, font=dict(color=PICKED_COLOR))
    fig.update_xaxes(title_text="mean activation over the test digits")
    fig.update_yaxes(title_text="units")
    _layout(fig, height, showlegend=False, bargap=0.05)
    return fig.update_layout(margin=dict(t=10))
