"""The Home and Train pages under Streamlit's AppTest: they render with and without cached models,
their controls are present, and changing a control changes the spec that would be trained."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import aecore.jobs
from aecore.runs import get_or_train
from aecore.spec import lecture_spec, lecture_specs
from tests.apptest import open_page

ENTRY = Path(__file__).resolve().parents[1] / "app" / "Home.py"


pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


def test_home_without_models_offers_the_lecture_set():
    at = open_page()
    labels = {m.label: m.value for m in at.metric}
    assert labels["Models in the cache"] == "0"
    assert "MNIST sample" in labels["Data in use"]
    assert any("Prepare the lecture set (5 to train, about" in b.label for b in at.button)


@pytest.mark.slow  # trains the lecture ae
def test_home_counts_a_cached_model():
    get_or_train(lecture_specs("mnist-sample")[0])  # the lecture's ae, so one fewer to train
    at = open_page()
    assert {m.label: m.value for m in at.metric}["Models in the cache"] == "1"
    assert any("4 to train, about" in b.label for b in at.button)


# Run in a fresh interpreter: which modules the Home page imports, with one lecture model cached.
_HOME_IMPORTS = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
assert not at.exception, at.exception
ready = "| ae 32 (cntk-simple-ae) | Train, Embeddings | ready |"
assert any(ready in m.value for m in at.markdown), [m.value for m in at.markdown]
print(sorted(m for m in ("torch", "safetensors", "umap", "openTSNE", "sklearn") if m in sys.modules))
"""


@pytest.mark.slow  # trains the lecture ae, then a fresh interpreter
def test_home_opens_without_importing_torch():
    # The first page of a lecture: torch alone takes 1-1.5 s to import on two cores (bench.interaction).
    get_or_train(lecture_specs("mnist-sample")[0])
    env = {**os.environ, "LATENTLAB_WARMUP": "0"}  # the warm-up thread imports them on purpose
    done = subprocess.run([sys.executable, "-c", _HOME_IMPORTS, str(ENTRY)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ENTRY.parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_train_controls_follow_the_family():
    at = open_page("train.py")
    assert any("on this server's CPU" in c.value for c in at.caption)
    assert {s.label for s in at.slider} >= {"Code size", "Epochs"}
    assert at.toggle(key="w_ae_tied").value is False
    at.selectbox(key="w_family").select("dae").run()
    assert {"Hidden units", "Corruption level"} <= {s.label for s in at.slider}
    assert at.toggle(key="w_dae_tied").value is True  # the dae's own default, not the ae's setting
    assert "tied" not in at.query_params or at.query_params["tied"] in ("True", ["True"])
    at.selectbox(key="w_family").select("vae").run()
    assert {"Latent size", "β (KL weight)"} <= {s.label for s in [*at.slider, *at.select_slider]}


def test_each_family_starts_at_its_lecture_model():
    # the dae's lecture model is the dA recipe (SGD lr 0.1, batch 20, 60 epochs on the sample), not the
    # Train page's generic 10 Adam epochs: picking dae must show it, so it is found or trained at once
    at = open_page("train.py")
    at.selectbox(key="w_family").select("dae").run()
    lecture = lecture_spec("dae", "mnist-sample").train
    assert (lecture.epochs, lecture.lr, lecture.optimizer) == (60, 0.1, "sgd")
    assert at.slider(key="w_dae_epochs").value == 60 and at.select_slider(key="w_dae_lr").value == 0.1
    at.selectbox(key="w_family").select("vae").run()  # the Keras recipe's RMSprop is offered and picked
    assert at.selectbox(key="w_vae_opt").value == lecture_spec("vae", "mnist-sample").train.optimizer == "rmsprop"
    at.selectbox(key="w_family").select("dae").run()
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    assert aecore.jobs._default.jobs()[0].spec == lecture_spec("dae", "mnist-sample")
    at.selectbox(key="w_family").select("stacked").run()  # unequal levels (0.1, 0.2) no slider shows
    assert any("on this server's CPU" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Train").click().run()
    assert aecore.jobs._default.jobs()[-1].spec == lecture_spec("stacked", "mnist-sample")


def test_changing_a_control_changes_the_spec_and_the_url():
    at = open_page("train.py", {"family": "dae"})
    at.slider(key="w_dae_level").set_value(0.5).run()
    assert at.query_params["level"] == ["0.5"] or at.query_params["level"] == "0.5"
    # the same URL in a new session opens the same settings
    again = open_page("train.py", {"family": "dae", "level": "0.5"})
    assert again.slider(key="w_dae_level").value == 0.5


def test_bad_values_in_the_url_are_ignored():
    at = open_page("train.py", {"family": "no-such-family", "epochs": "100000", "code": "-3"})
    assert at.selectbox(key="w_family").value == "ae"
    assert at.slider(key="w_ae_epochs").value == lecture_spec("ae", "mnist-sample").train.epochs
    assert at.slider(key="w_ae_code").value == 32


def test_train_button_starts_a_job_and_the_page_shows_the_result():
    at = open_page("train.py", {"family": "ae", "code": "8", "epochs": "2"})
    train = next(b for b in at.button if b.label == "Train")
    train.click().run()
    assert not at.exception
    jobs = aecore.jobs._default.jobs()
    assert len(jobs) == 1 and jobs[0].spec.model.hidden == (8,) and jobs[0].spec.train.epochs == 2
    assert jobs[0].wait(120) and jobs[0].state == "done"
    at.run()
    assert not at.exception
    assert any("already trained" in s.value for s in at.success)
    assert {m.label for m in at.metric} >= {"Test loss", "Training time"}


def test_a_familys_extra_figures_are_a_table_not_a_column_of_metrics():
    at = open_page("train.py", {"family": "stacked", "layers": "1", "hidden": "64", "pretrain_epochs": "0",
                                "epochs": "1"})
    next(b for b in at.button if b.label == "Train").click().run()
    job = aecore.jobs._default.jobs()[0]
    assert job.wait(120) and job.state == "done", job.state
    at.run()
    assert not at.exception
    assert {m.label for m in at.metric} == {"Test loss", "Training time"}  # no big "finetune test accuracy"
    extra = at.table[0].value
    assert "finetune test accuracy" in list(extra["figure"]) and all(extra["what it means"])


def test_a_diverging_run_shows_its_message_and_the_page_goes_on():
    # the lecture ae (784-32, Glorot) does not diverge at SGD 0.1; 784-256-32 does, in its first epoch
    at = open_page("train.py", {"family": "ae", "shape": "784-256-32", "opt": "sgd", "lr": "0.1", "epochs": "2"})
    next(b for b in at.button if b.label == "Train").click().run()
    job = aecore.jobs._default.jobs()[0]
    assert job.wait(120) and job.state == "failed"
    at.run()
    assert not at.exception
    assert any("diverged" in e.value and "learning rate" in e.value for e in at.error)
    at.select_slider(key="w_ae_lr").set_value(1e-3).run()  # the lecture goes on with a sane setting
    assert not at.exception and not at.error


def test_app_runs_with_an_unwritable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("AECORE_HOME", str(blocker / "home"))  # nothing can be created under a file
    at = open_page()
    assert {m.label: m.value for m in at.metric}["Models in the cache"] == "0"
    at = open_page("train.py", {"family": "ae", "code": "4", "epochs": "1"})
    next(b for b in at.button if b.label == "Train").click().run()
    job = aecore.jobs._default.jobs()[0]
    assert job.wait(120) and job.state == "done" and "kept in memory" in job.warning
    at.run()
    assert not at.exception
    assert any("kept in memory" in w.value for w in at.warning)


def test_a_file_path_in_the_url_is_never_used_as_data():
    at = open_page(query={"data": "/etc/passwd"})
    assert at.selectbox(key="dataset").value == "mnist-sample"


def _snapshots(epochs: int = 3, per_epoch: int = 40) -> list[dict]:
    """Progress snapshots as a job records them: batches, then an epoch with validation."""
    snaps = []
    for e in range(epochs):
        for b in range(1, per_epoch + 1):
            step = e * per_epoch + b
            snaps.append({"event": "batch", "global_step": step, "steps": per_epoch,
                          "train": {"loss": 100 / step, "rec": 90 / step, "kl": 10 / step}})
        snaps.append({"event": "epoch", "global_step": (e + 1) * per_epoch, "steps": per_epoch,
                      "train": {"loss": 100 / step, "rec": 90 / step, "kl": 10 / step},
                      "val": {"loss": 120 / step, "rec": 100 / step, "kl": 20 / step}})
    return snaps


@pytest.mark.parametrize("parts", [("loss",), ("rec", "kl")])
def test_the_live_loss_chart_draws_the_loss_figures_points(parts):
    from app import figures

    runs = [("ae 256-32", _snapshots())]
    plotly_traces = figures.loss_figure(runs, parts=parts, max_points=50).data
    chart = json.loads(json.dumps(figures.live_loss_chart(runs, parts=parts, max_points=50)))  # JSON as sent
    assert [s["name"] for s in chart["series"]] == [t.name for t in plotly_traces]
    for series, trace in zip(chart["series"], plotly_traces):
        assert [tuple(p) for p in series["data"]] == list(zip(trace.x, trace.y))
    train = chart["series"][0]["data"]
    assert 25 < len(train) <= 51 and train[-1] == [3.0, runs[0][1][-1]["train"][parts[0]]]  # thinned, last kept
    assert chart["animation"] is False  # an animation would repaint after every update


def test_the_live_scatter_has_every_class_with_axes_that_follow_the_points():
    from app import figures

    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(300, 2)).astype(np.float32), np.arange(300) % 10
    chart = json.loads(json.dumps(figures.live_scatter_chart(points, labels, [str(c) for c in range(10)], "t")))
    assert [s["name"] for s in chart["series"]] == [str(c) for c in range(10)]
    assert sum(len(s["data"]) for s in chart["series"]) == 300
    np.testing.assert_allclose(chart["series"][3]["data"], points[labels == 3], atol=1e-4)
    assert chart["xAxis"]["scale"] and chart["yAxis"]["scale"] and "min" not in chart["xAxis"]  # not from 0
    assert chart["legend"]["orient"] == "vertical" and chart["grid"]["right"] > 100  # beside the points


@pytest.mark.slow  # a training job
def test_the_live_charts_update_in_place_while_a_job_trains():
    """Each refresh sends the charts with the same element id and new data, so the browser updates its
    chart instead of mounting a new one (plotly charts are keyed by their content)."""
    at = open_page("train.py", {"family": "dae", "hidden": "1000", "epochs": "50", "batch": "64"})
    next(b for b in at.button if b.label == "Train").click().run()
    job = aecore.jobs._default.jobs()[0]
    try:
        def charts() -> dict[str, tuple[str, dict]]:
            at.run()
            assert not at.exception
            return {el.proto.id.rsplit("-", 2)[-2]: (el.proto.id, json.loads(el.proto.spec))
                    for el in at.get("echarts_chart")}

        deadline = time.monotonic() + 60
        while "latent" not in (first := charts()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert {"loss", "latent"} <= set(first), list(first)
        def train_points(shown: dict) -> int:
            return len(shown["loss"][1]["series"][0]["data"])

        points = train_points(first)
        while train_points(later := charts()) <= points:
            assert job.state == "running" and time.monotonic() < deadline, "the loss chart did not grow"
            time.sleep(0.5)
        assert later["loss"][0] == first["loss"][0] and later["latent"][0] == first["latent"][0]
        assert sorted(s["name"] for s in later["latent"][1]["series"]) == [str(d) for d in range(10)]
    finally:
        job.cancel()
        job.wait(60)
