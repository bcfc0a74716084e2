"""The Home and Train pages under Streamlit's AppTest: they render with and without cached models,
their controls are present, and changing a control changes the spec that would be trained."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import aecore.jobs
from aecore.runs import get_or_train
from aecore.spec import lecture_specs

ENTRY = Path(__file__).resolve().parents[1] / "app" / "Home.py"


pytestmark = pytest.mark.usefixtures("fresh_app")  # tests/conftest.py


def open_page(page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"../pages/{page}").run()
    assert not at.exception, at.exception
    return at


def test_home_without_models_offers_the_lecture_set():
    at = open_page()
    labels = {m.label: m.value for m in at.metric}
    assert labels["Models in the cache"] == "0"
    assert "MNIST sample" in labels["Data in use"]
    assert any("Prepare the lecture set (5 to train)" in b.label for b in at.button)


def test_home_counts_a_cached_model():
    get_or_train(lecture_specs("mnist-sample")[0])  # the lecture's ae, so one fewer to train
    at = open_page()
    assert {m.label: m.value for m in at.metric}["Models in the cache"] == "1"
    assert any("4 to train" in b.label for b in at.button)


# Run in a fresh interpreter: which modules the Home page imports, with one lecture model cached.
_HOME_IMPORTS = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
assert not at.exception, at.exception
assert any("| ae 256-32 | ready |" in m.value for m in at.markdown), [m.value for m in at.markdown]
print(sorted(m for m in ("torch", "safetensors", "umap", "openTSNE", "sklearn") if m in sys.modules))
"""


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
    assert any("Trains on this server's CPU" in c.value for c in at.caption)
    assert {s.label for s in at.slider} >= {"Code size", "Epochs"}
    at.selectbox(key="w_family").select("dae").run()
    assert {"Hidden units", "Corruption level"} <= {s.label for s in at.slider}
    at.selectbox(key="w_family").select("vae").run()
    assert {"Latent size", "β (KL weight)"} <= {s.label for s in [*at.slider, *at.select_slider]}


def test_changing_a_control_changes_the_spec_and_the_url():
    at = open_page("train.py", {"family": "dae"})
    at.slider(key="w_level").set_value(0.5).run()
    assert at.query_params["level"] == ["0.5"] or at.query_params["level"] == "0.5"
    # the same URL in a new session opens the same settings
    again = open_page("train.py", {"family": "dae", "level": "0.5"})
    assert again.slider(key="w_level").value == 0.5


def test_bad_values_in_the_url_are_ignored():
    at = open_page("train.py", {"family": "no-such-family", "epochs": "100000", "code": "-3"})
    assert at.selectbox(key="w_family").value == "ae"
    assert at.slider(key="w_epochs").value == 10
    assert at.slider(key="w_code").value == 32


def test_train_button_starts_a_job_and_the_page_shows_the_result():
    at = open_page("train.py", {"family": "ae", "code": "8", "epochs": "2"})
    train = next(b for b in at.button if b.label == "Train")
    train.click().run()
    assert not at.exception
    jobs = aecore.jobs._default.jobs()
    assert len(jobs) == 1 and jobs[0].spec.model.hidden == (256, 8) and jobs[0].spec.train.epochs == 2
    assert jobs[0].wait(120) and jobs[0].state == "done"
    at.run()
    assert not at.exception
    assert any("already trained" in s.value for s in at.success)
    assert {m.label for m in at.metric} >= {"Test loss", "Training time"}


def test_a_diverging_run_shows_its_message_and_the_page_goes_on():
    at = open_page("train.py", {"family": "ae", "opt": "sgd", "lr": "0.1", "epochs": "2"})
    next(b for b in at.button if b.label == "Train").click().run()
    job = aecore.jobs._default.jobs()[0]
    assert job.wait(120) and job.state == "failed"
    at.run()
    assert not at.exception
    assert any("diverged" in e.value and "learning rate" in e.value for e in at.error)
    at.select_slider(key="w_lr").set_value(1e-3).run()  # the lecture goes on with a sane setting
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
