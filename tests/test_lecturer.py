"""The lecturer role under Streamlit's AppTest: with a password set, preparing the lecture set,
deleting models and stopping others' runs need it (typed in the sidebar); a session may stop its own
runs; a second waiting run of one session is refused in one sentence; a waiting run shows its place
in line. Without a password everything stays open (the other page tests)."""
from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

import aecore.jobs
from aecore.runs import get_or_train
from aecore.spec import lecture_spec, make_spec
from tests.apptest import open_page

PASSWORD = "correct horse"

pytestmark = pytest.mark.usefixtures("fresh_app")  # tests/conftest.py


@pytest.fixture
def locked(monkeypatch):
    monkeypatch.setenv("LATENTLAB_LECTURER_PASSWORD", PASSWORD)


def unlock(at: AppTest, typed: str) -> AppTest:
    at.sidebar.text_input(key="lecturer_password_typed").input(typed).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.caption, *at.error, *at.markdown, *at.warning, *at.info]
                    if isinstance(e.value, str))


def test_preparing_the_lecture_set_needs_the_password(locked):
    at = open_page()
    assert not any("Prepare the lecture set" in b.label for b in at.button)
    assert "Only the lecturer can prepare the lecture set" in texts(at)
    unlock(at, "wrong")
    assert "not the lecturer's password" in texts(at)
    assert not any("Prepare the lecture set" in b.label for b in at.button)
    unlock(at, PASSWORD)
    assert any("Prepare the lecture set" in b.label for b in at.button)


def test_deleting_a_model_needs_the_password(locked):
    get_or_train(make_spec("ae", "mnist-sample", hidden=(16,), epochs=1))
    at = open_page("models.py")
    assert not any(b.label.startswith("Delete") for b in at.button)
    assert "Only the lecturer can delete models" in texts(at)
    unlock(at, PASSWORD)
    assert any(b.label == "Delete this model…" for b in at.button)


def test_others_runs_have_no_stop_button_and_a_second_waiting_run_is_refused(locked, monkeypatch):
    gate = threading.Event()
    real = aecore.jobs.train_and_store

    def held(spec, *args, **kwargs):  # keeps the first run running, so later ones wait
        assert gate.wait(60)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(aecore.jobs, "train_and_store", held)
    registry = aecore.jobs.default_registry()
    running = registry.submit(make_spec("vae", "mnist-sample", hidden=(16,), epochs=1))  # shared, held running
    others = registry.submit(lecture_spec("ae", "mnist-sample"), owner="another session")  # the Train page's model
    try:
        at = open_page("train.py")
        assert others.state == "queued"
        assert any("Waiting for its turn: 1st in line" in p.proto.text for p in at.get("progress"))
        assert not [b for b in at.button if b.label == "Stop"]  # another session's run
        mine = at.session_state["session_owner"]
        own = registry.submit(make_spec("ae", "mnist-sample", hidden=(8,), epochs=1), owner=mine)
        assert registry.queue_position(own) == 2
        with pytest.raises(aecore.jobs.QueueLimitError, match="still waiting for its turn"):
            registry.submit(make_spec("ae", "mnist-sample", hidden=(4,), epochs=1), owner=mine)
        unlock(at, PASSWORD)
        assert [b.key for b in at.button if b.label == "Stop"] == [f"train-stop-{others.key}"]
        assert running.state == "running"
    finally:
        gate.set()
