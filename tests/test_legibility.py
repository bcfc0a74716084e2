"""What a student or a lecturer reads off a page: a selection's sample represents it, the replay's axes
fit its codes, captions state what was measured on their pictures, the class colours stay apart with
colour-vision deficiencies, chart text is large and dark, and the progress text matches its chart."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.filters import filter_concentration, picture_correlation
from aecore.sampling import stratified_sample
from app import figures, words

ROOT = Path(__file__).resolve().parents[1]
CLASSES = [str(c) for c in range(10)]


# ---- Embeddings: a selection's sample -----------------------------------------------------------------

def test_a_stratified_sample_keeps_each_class_share_and_is_seeded():
    # 303 selected digits in test order, 4s first (the selection of issue 17): the first 100 were all 4s
    labels = np.array([4] * 200 + [7] * 70 + [9] * 33)
    picked = stratified_sample(labels, 100, seed=0)
    counts = np.bincount(labels[picked], minlength=10)
    assert len(picked) == 100 == len(set(picked.tolist()))
    assert counts[4] == 66 and counts[7] == 23 and counts[9] == 11
    assert np.array_equal(picked, stratified_sample(labels, 100, seed=0))
    assert not np.array_equal(picked, stratified_sample(labels, 100, seed=1))


def test_a_stratified_sample_shows_a_rare_class_and_all_of_a_small_selection():
    labels = np.array([1] * 99 + [2])
    assert 99 in stratified_sample(labels, 5, seed=3)  # the one 2 is shown
    assert sorted(stratified_sample(labels[:7], 100, seed=0).tolist()) == list(range(7))


def test_the_map_tooltip_shows_the_hovered_digit_and_its_test_index():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(30, 28, 28), dtype=np.uint8)
    ids = np.arange(500, 530)
    chart = figures.map_chart(rng.normal(size=(30, 2)), np.arange(30) % 3, CLASSES, title="t", ids=ids, images=images)
    template = chart["tooltip"]["formatter"]
    assert "data:image/png;base64," in template and "{@[4]}px -{@[5]}px" in template and "#{@[3]}" in template
    point = chart["series"][1]["data"][0]  # class 1's first point: the map's point 1
    assert point[2:] == [1, 501, figures.TOOLTIP_DIGIT_PX, 0]  # index, test index, its picture's offsets
    assert not any("formatter" in s.get("tooltip", {}) for s in chart["series"])  # no series hides it


# ---- Train: the replay's axes and titles --------------------------------------------------------------

def test_the_replay_axes_fit_the_codes_not_their_outliers():
    rng = np.random.default_rng(0)
    snaps = [rng.normal(scale=s, size=(1000, 2)) for s in (3.0, 5.0)]
    snaps[-1][0] = [60.0, -45.0]  # one stray code
    (x0, x1), (y0, y1) = figures.probe_axes(snaps)
    assert 10 < x1 - x0 < 30 and 10 < y1 - y0 < 30  # the middle 98% of ±5-σ codes, not ±63
    fig = figures.probe_scatter(snaps[-1], np.arange(1000) % 10, CLASSES, "t", axes=((x0, x1), (y0, y1)))
    assert list(fig.layout.xaxis.range) == [x0, x1] and list(fig.layout.yaxis.range) == [y0, y1]
    assert fig.layout.yaxis.scaleanchor is None  # a forced square widened the x axis to ±2.5x the range


@pytest.mark.parametrize("name, label", [("train 10", "epoch 10"), ("fine-tune 4", "fine-tuning, epoch 4"),
                                         ("pretrain layer 2 3", "pretraining layer 2, epoch 3")])
def test_snapshot_titles_name_the_epoch(name, label):
    assert figures.snapshot_label(name) == label


# ---- Filters: the caption is measured on the pictures ---------------------------------------------------

def test_the_filter_caption_says_plainly_when_the_grids_look_alike():
    text = words.filter_pair_caption(0.97, 0.54, 0.53)
    assert "look alike" in text and "0.97" in text and "54%" in text and "53%" in text
    assert "more localised" not in text and "strokes" not in text.split("Measured")[0]


def test_the_filter_caption_names_the_more_localised_set():
    assert "corrupted model's filters are more localised" in words.filter_pair_caption(0.3, 0.45, 0.72)
    assert "plain model's filters are the more localised" in words.filter_pair_caption(0.3, 0.72, 0.45)
    assert "neither set is more localised" in words.filter_pair_caption(0.3, 0.50, 0.52)


def test_filter_measures():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(50, 784))
    stroke = np.zeros((50, 784))
    stroke[:, 300:340] = rng.normal(size=(50, 40))
    assert 0.40 < filter_concentration(noise) < 0.48 and filter_concentration(stroke) > 0.99
    assert picture_correlation(noise, noise * 2 + 1) == pytest.approx(1.0)
    assert picture_correlation(noise, noise[:10]) is None


@pytest.mark.slow
def test_the_filters_page_says_what_the_lecture_pair_measurably_shows(fresh_app, isolated_home, shared_lecture_models):
    """The sentence under the lecture's filter pair states what was measured on the two pictures: it says
    they look alike exactly when their pixel correlation is at least `words.ALIKE`, quotes each model's
    filter concentration, and never claims localised strokes that a measurement does not show."""
    import re

    from aecore.runs import get_or_train
    from aecore.spec import lecture_spec
    from app import exports, words
    from bench.lecture_hall.server import copy_models
    copy_models(shared_lecture_models, isolated_home)  # the pair, where another module trained it
    keys = [get_or_train(lecture_spec("dae", "mnist-sample", level=level))[0].key for level in (0.0, 0.3)]
    copy_models(isolated_home, shared_lecture_models)
    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page("../pages/filters.py").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "localised strokes instead of noisy" not in text
    found = re.search(r"pixel correlation between the two grids (-?\d+\.\d+)", text)
    assert found, text
    assert ("The two grids look alike" in text) == (float(found.group(1)) >= words.ALIKE)
    plain, denoising = (exports.filter_concentration_of(key) for key in keys)
    assert f"carry {plain:.0%} of its weight at corruption 0 and {denoising:.0%} at 0.3" in text


# ---- colours and text ------------------------------------------------------------------------------

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
CVD = {"normal": np.eye(3),
       "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                               [-0.003882, -0.048116, 1.051998]]),
       "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                                 [-0.011820, 0.042940, 0.968881]])}


def _lab(hex_color: str, seen: np.ndarray) -> np.ndarray:
    rgb = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) \
        @ np.clip(seen @ linear, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", list(CVD))
def test_the_ten_class_colours_stay_apart_with_colour_vision_deficiencies(vision):
    """Least CIELAB distance between two class colours as seen with `vision`: Tableau 10 fell to 0.9
    (deuteranopia: classes 2 and 4) and 1.5 (protanopia: 7 and 9); 10 is plainly apart."""
    labs = [_lab(c, CVD[vision]) for c in figures.CLASS_COLORS]
    nearest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(labs, 2))
    assert len(set(figures.CLASS_COLORS)) == 10 and nearest >= 10, nearest


def _echarts_sizes(option) -> list[tuple[str, int]]:
    """(where, size) of every font size in an ECharts option."""
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "fontSize":
                    found.append((path, v))
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for v in node:
                walk(v, path)
    walk(option, "")
    return found


def _dark(color: str) -> bool:
    return all(int(color[i:i + 2], 16) <= 0x40 for i in (1, 3, 5))


def _sample_echarts() -> dict[str, dict]:
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(40, 2)), np.arange(40) % 10
    snaps = [{"event": "epoch", "global_step": 5, "steps": 5, "train": {"loss": 1.0}, "val": {"loss": 1.1}}]
    return {"map": figures.map_chart(points, labels, CLASSES, title="t", extra={"your drawing": points[:1]}),
            "live loss": figures.live_loss_chart([("ae", snaps)], title="loss"),
            "live scatter": figures.live_scatter_chart(points, labels, CLASSES, "t"),
            "frame": figures.map_frame("t", "fitting")}


@pytest.mark.parametrize("name", ["map", "live loss", "live scatter", "frame"])
def test_echarts_text_is_at_least_16_px_and_dark(name):
    option = _sample_echarts()[name]
    sizes = _echarts_sizes(option)
    assert sizes and all(size >= 16 for _, size in sizes), sizes
    styles = [s for s in json.dumps(option).split('"color": "')[1:] if s.startswith("#1a")]
    assert name == "frame" or styles  # axis labels, legends and titles carry the dark text colour


def _sample_plotly():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(40, 2)), np.arange(40) % 10
    history = [{"event": "epoch", "global_step": 5, "steps": 5, "epoch": 1, "train": {"loss": 1.0},
                "val": {"loss": 1.1}}]
    return {"loss": figures.loss_figure([("ae", history)], title="loss"),
            "scatter": figures.latent_scatter(points, labels, CLASSES, title="t"),
            "probe": figures.probe_scatter(points, labels, CLASSES, "t"),
            "grid map": figures.grid_map_figure(points, labels, CLASSES, points[:4], path=points[:3]),
            "heatmap": figures.heatmap(np.eye(3), ["a", "b", "c"], "t"),
            "stages": figures.stage_figure({"fine-tune": [{"epoch": 1, "val": {"loss": 1.0}}]}, title="t"),
            "posterior": figures.posterior_figure(points, labels, CLASSES, points[0], np.array([0.1, 0.2]), points[:8]),
            "kl": figures.kl_bars([2.0, 0.01], [1.5, 0.0], "your drawing")}


@pytest.mark.parametrize("name", ["loss", "scatter", "probe", "grid map", "heatmap", "stages", "posterior", "kl"])
def test_plotly_text_is_at_least_16_px_and_dark_where_streamlit_theme_would_shrink_it(name):
    layout = _sample_plotly()[name].layout
    fonts = [layout.font, layout.legend.font, layout.title.font, layout.xaxis.tickfont, layout.yaxis.tickfont,
             layout.xaxis.title.font, layout.yaxis.title.font]
    assert all(f.size is not None and f.size >= 16 for f in fonts), [f.size for f in fonts]
    assert all(f.color and _dark(f.color) for f in fonts), [f.color for f in fonts]


# ---- Train: the progress text and its chart ---------------------------------------------------------

PROGRESS_SCRIPT = '''
import streamlit as st
from app import training


class StaleJob:
    """A running job whose newest batch snapshot (`latest`) is older than its kept snapshots, as when the
    text and the chart were drawn at different moments."""
    key, done, state, warning, owner, title = "k" * 20, False, "running", None, None, "ae 256-32"

    class spec:
        family = "ae"

        @staticmethod
        def label():
            return "ae 256-32"

    def __init__(self):
        snap = lambda e: {"event": "epoch", "stage": "train", "epoch": e, "epochs": 10, "step": 5, "steps": 5,
                          "global_step": 5 * e, "total_steps": 50, "samples_per_s": 1000.0, "eta_s": 3.0,
                          "train": {"loss": 100.0 - e}, "val": {"loss": 101.0 - e}}
        self._snaps = [snap(e) for e in range(1, 7)]
        self.latest = snap(3)

    def progress(self):
        return list(self._snaps)

    def epochs(self):
        return self._snaps


training.job_progress(StaleJob(), key="t")
'''


def test_the_progress_text_names_the_epoch_its_chart_shows(tmp_path):
    at = AppTest.from_string(PROGRESS_SCRIPT, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    bar = at.get("progress")[0].proto.text
    chart = json.loads(at.get("echarts_chart")[0].proto.spec)
    last_x = max(point[0] for series in chart["series"] for point in series["data"])
    assert f"epoch {int(last_x)}/10" in bar, (bar, last_x)
