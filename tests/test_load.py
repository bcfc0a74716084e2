"""The lecture-hall load test, short: six sessions for twenty seconds on one real dashboard server.

Checks what must hold however busy the machine is: no session sees an exception or loses its
connection, two sessions pressing Train on the same settings at the same moment start one job, and two
sessions asking for the same new UMAP map at the same moment get it without the server dying.
Latency and memory are the full run's business (`python -m bench.load_test`), not this test's.
Also checks the pieces the client stands on: widget values as the browser sends them, the canvas's
stroke and the report's percentile.
"""
from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stdout

import pytest

from bench import load_test
from bench.lecture_hall.client import Widget, widget_value
from bench.lecture_hall.students import TrainSettings, canvas_value


@pytest.fixture(scope="module")
def short_run(request):
    """(report, stdout) of one short run. UMAP's compiled kernels are kept in pytest's cache folder,
    so only the first run on a machine compiles them (and ~/.cache is left alone)."""
    numba = request.config.cache.mkdir("latentlab-numba")
    out = io.StringIO()
    with redirect_stdout(out):
        code = load_test.main(["--sessions", "6", "--duration", "20", "--train-epochs", "2", "--umap-pairs", "1",
                               "--seed", "1", "--numba-cache", str(numba)])
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    report = json.loads(lines[-1])
    assert code in (0, 1) and report["ok"] == (code == 0)
    return report, out.getvalue()


@pytest.mark.slow
class TestShortLectureHall:
    def test_every_session_ran_without_errors(self, short_run):
        report, text = short_run
        assert report["errors"] == 0, report["error_samples"]
        assert report["crashed_sessions"] == 0
        assert report["server_alive"]
        assert report["reruns_ok"] > 6 * 5  # each session did more than open the page
        assert report["rerun_latency_s"]["n"] > 0

    def test_two_sessions_pressing_train_together_start_one_job(self, short_run):
        report, _ = short_run
        pressed = {(p["session"], p["code"]) for p in report["train_pressed"]}
        assert pressed == {(0, 24), (1, 24), (2, 12)}
        assert report["jobs"]["shared_config_runs"] == 1
        assert report["jobs"]["other_config_runs"] == 1
        assert report["jobs"]["unexpected_runs"] == 0

    def test_two_simultaneous_umap_maps_do_not_kill_the_server(self, short_run):
        report, _ = short_run
        pair = report["umap_pairs"]
        assert [p["session"] for p in sorted(pair, key=lambda p: p["session"])] == [3, 4]
        assert abs(pair[0]["at"] - pair[1]["at"]) < 0.1  # asked at the same moment
        for p in pair:
            assert p["status"] == "ok" and p["exceptions"] == 0 and p["server_alive"]
        assert any(p["fitted"] for p in pair)  # a new map, not one from the cache

    def test_report_ends_with_the_figures(self, short_run):
        report, text = short_run
        assert "bar" in text and ("PASS" in text or "FAIL" in text)
        assert report["server_peak_rss_mib"] > 0
        assert set(report["bars"]) >= {"zero errors", "zero crashed sessions", "one job for the shared config",
                                       "server memory below 4 GiB", "p95 rerun latency below 1.5 s",
                                       "simultaneous UMAP maps survive"}


# ---- the client's pieces, without a server ------------------------------------------------------------

def _proto(kind: str, **fields):
    from streamlit.proto.Element_pb2 import Element
    el = Element()
    sub = getattr(el, kind)
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(sub, name).extend(value)
        else:
            setattr(sub, name, value)
    return sub


def test_widget_values_use_the_fields_the_browser_uses():
    slider = Widget("slider", _proto("slider", id="s", min=1, max=50, step=1), "", (0,))
    assert list(widget_value(slider, 12).double_array_value.data) == [12.0]
    select_slider = Widget("slider", _proto("slider", id="ss", options=["0.1", "0.5"]), "", (0,))
    assert list(widget_value(select_slider, "0.5").string_array_value.data) == ["0.5"]
    number = Widget("number_input", _proto("number_input", id="n", data_type=0), "", (0,))
    assert widget_value(number, 7).WhichOneof("value") == "int_value"
    button = Widget("button", _proto("button", id="b"), "", (0,))
    assert widget_value(button, True).trigger_value
    toggle = Widget("checkbox", _proto("checkbox", id="t"), "", (0,))
    assert widget_value(toggle, True).bool_value
    canvas = Widget("bidi_component", _proto("bidi_component", id="c"), "frag", (0,))
    assert json.loads(widget_value(canvas, {"drawing": {}}).json_value) == {"drawing": {}}


def test_a_canvas_stroke_is_a_digit_the_draw_page_can_read():
    import base64
    from types import SimpleNamespace

    import numpy as np
    from PIL import Image

    from app.drawing import canvas_digit

    value = canvas_value(random.Random(0))
    _, encoded = value["drawing"]["data"].split(";base64,", 1)
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
    assert pixels.shape == (280, 280, 4)
    # Read as the Draw page reads the canvas: its data URL, for a canvas of 280 CSS pixels.
    digit = canvas_digit(SimpleNamespace(_image_data_url=value["drawing"]["data"]), 280)
    assert digit is not None and digit.shape == (28, 28) and digit.max() == pytest.approx(1.0)


def test_train_settings_match_the_stored_spec():
    spec = {"family": "ae", "model": {"hidden": [256, 24]}, "train": {"epochs": 2}}
    assert TrainSettings(24, 2).matches(spec)
    assert not TrainSettings(12, 2).matches(spec)
    assert not TrainSettings(24, 3).matches(spec)


def test_percentile_interpolates():
    assert load_test.percentile([], 0.95) is None
    assert load_test.percentile([1.0], 0.95) == 1.0
    assert load_test.percentile([0.0, 10.0], 0.5) == pytest.approx(5.0)
    assert load_test.percentile(list(map(float, range(101))), 0.95) == pytest.approx(95.0)
