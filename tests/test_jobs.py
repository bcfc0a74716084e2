"""Tests of the job registry: deduplication (also under concurrent submits), cancelling, the
running-jobs limit, failures, store hits, and live progress. Every wait is bounded."""
from __future__ import annotations

import threading
import time

import pytest
from conftest import SMALL_CONFIGS

import aecore.jobs as jobs_module
from aecore.errors import DataError
from aecore.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobRegistry
from aecore.runs import get_or_train
from aecore.spec import make_spec

TIMEOUT = 30  # seconds; generous for a loaded CI machine, the jobs here take well under one


def wait_until(condition, timeout=TIMEOUT, every=0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


@pytest.fixture
def trainings(monkeypatch):
    """Counts calls of `train_and_store` made by the registry; `gates[family]` holds that family's start."""
    calls: list = []
    gates: dict[str, threading.Event] = {}
    real = jobs_module.train_and_store

    def counting(spec, data, store, **kwargs):
        calls.append(spec)
        gate = gates.get(spec.family)
        if gate is not None:
            assert gate.wait(TIMEOUT), "test forgot to open a gate"
        return real(spec, data, store, **kwargs)

    monkeypatch.setattr(jobs_module, "train_and_store", counting)
    counting.calls, counting.gates = calls, gates
    return counting


@pytest.fixture
def registry(store):
    return JobRegistry(store, max_running=1, device="cpu")


def spec_for(data_path, family="ae", **settings):
    return make_spec(family, str(data_path), **{**SMALL_CONFIGS[family], "epochs": 1, **settings})


# ---- deduplication -----------------------------------------------------------------------------------

def test_same_spec_twice_is_one_job_and_one_training(registry, tiny_npz, trainings):
    first = registry.submit(spec_for(tiny_npz))
    second = registry.submit(spec_for(tiny_npz))
    assert second is first
    assert first.wait(TIMEOUT) and first.state == DONE
    assert registry.submit(spec_for(tiny_npz)) is first  # done jobs are joined too
    assert len(trainings.calls) == 1
    assert registry.jobs() == [first] and registry.get(first.key) is first
    assert first.result.model is not None and registry.store.load(first.key) is not None
    assert first.error is None and first.warning is None


def test_eight_concurrent_submits_make_one_job(registry, tiny_npz, trainings):
    barrier = threading.Barrier(8)
    got = []

    def submit():
        barrier.wait(TIMEOUT)
        got.append(registry.submit(spec_for(tiny_npz)))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(got) == 8 and all(job is got[0] for job in got)
    assert got[0].wait(TIMEOUT) and got[0].state == DONE
    assert len(trainings.calls) == 1


def test_different_settings_are_different_jobs(registry, tiny_npz, trainings):
    a = registry.submit(spec_for(tiny_npz, seed=1))
    b = registry.submit(spec_for(tiny_npz, seed=2))
    assert a is not b and a.key != b.key
    assert a.wait(TIMEOUT) and b.wait(TIMEOUT)
    assert len(trainings.calls) == 2


def test_spec_in_the_store_comes_back_done_without_training(registry, tiny_npz, trainings):
    stored, trained = get_or_train(spec_for(tiny_npz), registry.store)
    assert trained
    job = registry.submit(spec_for(tiny_npz))
    assert job.done and job.state == DONE  # at once, no thread needed
    assert trainings.calls == []
    assert job.key == stored.key and job.result.key == stored.key
    assert job.epochs() == stored.meta["history"]


def test_bad_data_fails_at_submit(registry, tmp_path):
    with pytest.raises(DataError):
        registry.submit(spec_for(tmp_path / "missing.npz"))
    assert registry.jobs() == []


def test_a_trained_model_is_handed_back_on_the_cpu_where_a_loaded_one_is_and_jobs_share_cores(registry, tiny_npz, store,
                                                                                              monkeypatch):
    """On a GPU machine models train on CUDA and the store loads them onto the CPU; both ways of
    training hand the model back through `.cpu()`, so the dashboard gets the same either way. (Here
    on the CPU it is a no-op, hence the spy; the CUDA check in test_trainer.py runs it for real.)"""
    import aecore.runs as runs_module
    real_train_spec, moved, shared = runs_module.train_spec, [], []

    def spying(*args, **kwargs):
        shared.append(kwargs.get("share_cores", False))
        result = real_train_spec(*args, **kwargs)
        to_cpu = result.model.cpu
        result.model.cpu = lambda: (moved.append(result.model), to_cpu())[1]
        return result

    monkeypatch.setattr(runs_module, "train_spec", spying)
    job = registry.submit(spec_for(tiny_npz))
    assert job.wait(TIMEOUT) and job.state == DONE
    assert moved == [job.result.model]

    fresh, trained = get_or_train(spec_for(tiny_npz, "vae"), store)
    assert trained and moved[1:] == [fresh.model]
    # The dashboard's jobs share the cores with a browser that may run beside them (aecore.device);
    # a training run asked for directly (the CLI, a notebook) keeps them all.
    assert shared == [True, False]


# ---- cancelling --------------------------------------------------------------------------------------

def test_cancel_stops_a_running_job_and_keeps_the_partial_model(registry, tiny_npz):
    job = registry.submit(spec_for(tiny_npz, epochs=500, batch_size=16))
    assert wait_until(lambda: job.state == RUNNING and job.progress())
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(10)
    assert time.monotonic() - t0 < 5
    assert job.state == CANCELLED and job.error is None
    assert job.result is not None and job.result.meta["stopped_early"]
    assert len(job.result.meta["history"]) < 500
    assert registry.store.load(job.key) is None  # a partial model is never stored under the full key


def test_cancelled_queued_job_never_trains_and_can_be_resubmitted(registry, tiny_npz, trainings):
    trainings.gates["vae"] = gate = threading.Event()
    blocker = registry.submit(spec_for(tiny_npz, "vae"))
    assert wait_until(lambda: blocker.state == RUNNING)
    queued = registry.submit(spec_for(tiny_npz))
    queued.cancel()
    assert queued.done and queued.state == CANCELLED  # at once, not when the running job frees its slot
    again = registry.submit(spec_for(tiny_npz))
    assert again is not queued  # a cancelled job is not joined
    gate.set()
    assert queued.wait(TIMEOUT) and again.wait(TIMEOUT) and blocker.wait(TIMEOUT)
    assert queued.state == CANCELLED and queued.result is None
    assert again.state == DONE and blocker.state == DONE
    assert [s.family for s in trainings.calls] == ["vae", "ae"]


# ---- limits, failures, progress ---------------------------------------------------------------------

def test_max_running_one_queues_the_second_job(registry, tiny_npz, trainings):
    trainings.gates["vae"] = gate = threading.Event()
    first = registry.submit(spec_for(tiny_npz, "vae"))
    assert wait_until(lambda: first.state == RUNNING)
    second = registry.submit(spec_for(tiny_npz, "ae"))
    time.sleep(0.3)  # time enough for the second to start, were it allowed to
    assert first.state == RUNNING and second.state == QUEUED and not second.done
    assert [s.family for s in trainings.calls] == ["vae"]
    gate.set()
    assert first.wait(TIMEOUT) and second.wait(TIMEOUT)
    assert (first.state, second.state) == (DONE, DONE)
    assert second.finished_at >= first.finished_at


def test_two_slots_run_two_jobs_at_once(store, tiny_npz, trainings):
    registry = JobRegistry(store, max_running=2, device="cpu")
    trainings.gates["vae"] = trainings.gates["ae"] = gate = threading.Event()
    a = registry.submit(spec_for(tiny_npz, "vae"))
    b = registry.submit(spec_for(tiny_npz, "ae"))
    assert wait_until(lambda: a.state == RUNNING and b.state == RUNNING)
    gate.set()
    assert a.wait(TIMEOUT) and b.wait(TIMEOUT) and a.state == b.state == DONE


def test_diverging_job_fails_with_a_one_line_error(registry, tiny_npz):
    spec = spec_for(tiny_npz, epochs=3, optimizer="sgd", lr=10.0)
    job = registry.submit(spec)
    assert job.wait(TIMEOUT)
    assert job.state == FAILED and job.result is None
    assert job.error.lower().startswith("training diverged") and "learning rate" in job.error
    assert "\n" not in job.error and "Traceback" not in job.error
    assert registry.store.load(job.key) is None
    retry = registry.submit(spec)  # a failed job is not joined: trying again trains again
    assert retry is not job
    assert retry.wait(TIMEOUT) and retry.state == FAILED


def test_progress_grows_while_running(registry, tiny_npz, trainings, monkeypatch):
    reached = [threading.Event(), threading.Event()]
    go = [threading.Event(), threading.Event()]
    real = trainings

    def hold_at_epoch_ends(spec, data, store, *, on_trainer=None, **kwargs):
        def attach(trainer):
            on_trainer(trainer)

            def hold(progress):
                if progress.epoch <= 2:
                    reached[progress.epoch - 1].set()
                    assert go[progress.epoch - 1].wait(TIMEOUT)

            trainer.add_callback("on_epoch_end", hold)  # after the job's own recorder

        return real(spec, data, store, on_trainer=attach, **kwargs)

    monkeypatch.setattr(jobs_module, "train_and_store", hold_at_epoch_ends)
    job = registry.submit(spec_for(tiny_npz, epochs=3))
    assert reached[0].wait(TIMEOUT)
    first = job.progress()
    assert job.state == RUNNING and len(job.epochs()) == 1 and job.latest["event"] == "epoch"
    assert first[0]["event"] == "batch" and first[0]["global_step"] == 1  # the first batch is always kept
    # the live latent chart's codes come with the epoch's progress, never in the kept snapshots
    assert job.latest_probe.name == "train 1" and job.latest_probe.codes.shape == (len(job.latest_probe.labels), 2)
    assert all("probe" not in p for p in first)
    go[0].set()
    assert reached[1].wait(TIMEOUT)
    second = job.progress()
    assert len(second) > len(first) and second[:len(first)] == first and len(job.epochs()) == 2
    go[1].set()
    assert job.wait(TIMEOUT) and job.state == DONE
    assert [p["epoch"] for p in job.epochs()] == [1, 2, 3]
    assert job.epochs() == job.result.meta["history"]


def test_unsaveable_model_is_done_with_a_warning(tmp_path, tiny_npz):
    from aecore.store import ModelStore
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    registry = JobRegistry(ModelStore(blocker / "models"), device="cpu")
    job = registry.submit(spec_for(tiny_npz))
    assert job.wait(TIMEOUT)
    assert job.state == DONE and job.result is not None
    assert "memory only" in job.warning


# ---- sessions in a lecture hall ------------------------------------------------------------------------

def test_an_owner_has_at_most_one_waiting_job_and_shared_jobs_count_for_no_one(registry, tiny_npz, trainings):
    from aecore.jobs import QueueLimitError
    trainings.gates["vae"] = gate = threading.Event()
    running = registry.submit(spec_for(tiny_npz, "vae"), owner="alice")
    assert wait_until(lambda: running.state == RUNNING)
    waiting = registry.submit(spec_for(tiny_npz, "ae"), owner="alice")  # her running job is not waiting
    with pytest.raises(QueueLimitError, match="ae 64-16 is still waiting"):
        registry.submit(spec_for(tiny_npz, "ae", seed=1), owner="alice")
    assert registry.submit(spec_for(tiny_npz, "ae"), owner="alice") is waiting  # joining is not a new job
    assert registry.submit(spec_for(tiny_npz, "ae"), owner="bob") is waiting
    bobs = registry.submit(spec_for(tiny_npz, "ae", seed=2), owner="bob")
    shared = [registry.submit(spec_for(tiny_npz, "dae", seed=s)) for s in (1, 2)]  # a page's default models
    assert [registry.queue_position(j) for j in (running, waiting, bobs, *shared)] == [None, 1, 2, 3, 4]
    waiting.cancel()
    assert [registry.queue_position(j) for j in (bobs, *shared)] == [1, 2, 3]
    again = registry.submit(spec_for(tiny_npz, "ae", seed=1), owner="alice")  # her turn again
    assert again.state == QUEUED
    gate.set()
    assert all(j.wait(TIMEOUT) for j in (running, bobs, *shared, again))


def test_waiting_jobs_start_in_the_order_they_were_submitted(registry, tiny_npz, trainings):
    trainings.gates["vae"] = gate = threading.Event()
    first = registry.submit(spec_for(tiny_npz, "vae"))
    assert wait_until(lambda: first.state == RUNNING)
    order = [registry.submit(spec_for(tiny_npz, "ae", seed=s)) for s in (5, 3, 4, 1, 2)]
    gate.set()
    assert all(j.wait(TIMEOUT) for j in order)
    assert [s.train.seed for s in trainings.calls[1:]] == [5, 3, 4, 1, 2]
