"""The map worker process: it fits the same t-SNE and UMAP maps as `project_codes`, reports progress,
refuses bad input before it reaches the child, survives its child dying, and needs no torch."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aecore.errors import ConfigError, DataError
from aecore.maps import project_codes
from aecore.maps.worker import MapServerBusy, MapWorker, MapWorkerError, report_nothing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    """300 codes in three well-separated 16-D clusters."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 100)
    return (rng.normal(0, 6, (3, 16))[labels] + rng.normal(size=(300, 16))).astype(np.float32)


@pytest.fixture(scope="module")
def worker():
    w = MapWorker()
    yield w
    w.close()


def kill_child(worker: MapWorker) -> None:
    process = worker._process
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("method", ["umap", "tsne"])
@pytest.mark.slow  # t-SNE and UMAP fits in a fresh child
def test_the_worker_fits_and_places_what_the_caller_would(worker, codes, method):
    messages = []
    fitted = worker.fit(codes, method, seed=3, progress=lambda fraction, message: messages.append((fraction, message)))
    here = project_codes(codes, method, seed=3)
    assert worker.pid is not None and worker.pid != os.getpid()
    np.testing.assert_allclose(fitted.points, here.points, atol=1e-4)  # seeded: the very same map
    assert fitted.method == method and fitted.params == here.params and fitted.code_dim == 16
    assert not fitted.points.flags.writeable
    np.testing.assert_allclose(fitted.transform(codes[[5, 150]]), here.transform(codes[[5, 150]]), atol=1e-3)
    assert messages[-1][0] == 1.0 and messages[-1][1].endswith("done")
    assert all(0.0 <= f <= 1.0 for f, _ in messages)


def test_the_first_request_says_the_map_code_is_loading(codes):
    worker = MapWorker()
    try:
        messages = []
        worker.fit(codes, "umap", progress=lambda fraction, message: messages.append(message))
        assert messages[0].startswith("loading the map code")
        messages.clear()
        worker.fit(codes, "umap", seed=1, progress=lambda fraction, message: messages.append(message))
        assert not any(m.startswith("loading") for m in messages)  # only while the child starts
    finally:
        worker.close()


def test_bad_input_is_refused_without_starting_the_child(codes):
    worker = MapWorker()
    with pytest.raises(DataError, match="at least 5 codes"):
        worker.fit(codes[:3], "umap")
    with pytest.raises(DataError, match="NaN"):
        worker.fit(np.full((10, 4), np.nan, dtype=np.float32), "tsne")
    with pytest.raises(ConfigError, match="perplexity"):
        worker.fit(codes, "tsne", perplexity=0)
    with pytest.raises(ConfigError, match="not 'pca'"):
        worker.fit(codes, "pca")
    assert worker.pid is None


def test_a_map_outlives_its_child_process(worker, codes):
    fitted = worker.fit(codes, "umap", seed=0)
    before = fitted.transform(codes[:2])
    old = worker.pid
    kill_child(worker)
    again = fitted.transform(codes[:2])  # a new child fits the same map again to place the codes
    assert worker.pid != old
    np.testing.assert_allclose(again, before, atol=1e-3)


@pytest.mark.slow  # two fresh children
def test_a_child_dying_during_a_fit_is_a_clear_error_and_the_next_fit_works(codes):
    worker = MapWorker()
    try:
        worker.start()
        killer = threading.Timer(0.5, kill_child, args=(worker,))
        killer.start()
        with pytest.raises(MapWorkerError, match="stopped unexpectedly.*try again"):
            worker.fit(np.tile(codes, (10, 1)), "tsne")  # 3,000 codes: still fitting (or warming) at 0.5 s
        killer.join()
        assert worker.fit(codes, "umap").points.shape == (300, 2)
    finally:
        worker.close()


def test_the_child_exits_when_its_parent_closes_the_pipe(codes):
    worker = MapWorker()
    worker.fit(codes, "umap")
    process = worker._process
    worker._to_child.close()  # what the parent's death does to the pipe
    assert process.wait(timeout=30) == 0
    worker.close()


def test_threads_share_one_worker_one_request_at_a_time(worker, codes):
    results, messages = {}, []

    def fit(seed):
        results[seed] = worker.fit(codes, "umap", seed=seed, progress=lambda f, m: messages.append(m))

    threads = [threading.Thread(target=fit, args=(seed,)) for seed in (0, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == [0, 1, 2]
    assert any(m.startswith("waiting for the map server: ") for m in messages)
    np.testing.assert_allclose(results[1].points, project_codes(codes, "umap", seed=1).points, atol=1e-4)


def test_the_child_imports_no_torch():
    """The map code must load without torch: the child is started for its imports' speed."""
    probe = ("import sys; import aecore.maps.worker, aecore.maps.projection; "
             "print(sorted(m for m in ('torch', 'streamlit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the child's memory map from Linux's /proc")
@pytest.mark.slow  # t-SNE and UMAP fits in a fresh child
def test_the_child_fits_both_maps_without_loading_pandas(worker, codes):
    """scikit-learn would import pandas, a fifth of the child's start-up; the child keeps it out."""
    for method in ("umap", "tsne"):
        worker.fit(codes, method, seed=0)
    pid = worker._process.pid
    loaded = Path(f"/proc/{pid}/maps").read_text()
    assert "/sklearn/" in loaded, "the child's memory map shows no scikit-learn: wrong process?"
    assert "/pandas/" not in loaded, "the map worker's child loaded pandas"


def test_start_returns_at_once_while_a_request_is_in_flight(worker, codes):
    worker.start()
    done = threading.Event()
    fitting = threading.Thread(target=lambda: (worker.fit(np.tile(codes, (5, 1)), "tsne"), done.set()))
    fitting.start()
    time.sleep(0.2)
    started = time.perf_counter()
    worker.start()  # the dashboard calls this on every page run
    assert time.perf_counter() - started < 0.1
    fitting.join(timeout=120)
    assert done.is_set()


def test_a_caller_that_stops_waiting_stops_the_fit_and_leaves_the_worker_in_step(worker, codes):
    """Streamlit stops a run for a rerun by raising in the session's thread, e.g. in a progress report.
    The child must then stop the t-SNE at its next report, and its later messages must not be read as
    the answer to the next request."""
    class Rerun(Exception):
        pass

    def stop_at_the_first_iteration(fraction, message):
        if "iteration" in message:
            raise Rerun

    many = np.tile(codes, (10, 1)) + np.random.default_rng(1).normal(0, 0.1, (3000, 16)).astype(np.float32)
    worker.fit(codes, "umap")  # the child is warm before anything is timed
    started = time.perf_counter()
    whole = worker.fit(many, "tsne", seed=1)
    whole_s = time.perf_counter() - started
    started = time.perf_counter()
    with pytest.raises(Rerun):
        worker.fit(many, "tsne", seed=2, progress=stop_at_the_first_iteration)
    stopped_s = time.perf_counter() - started
    assert stopped_s < 0.75 * whole_s, (stopped_s, whole_s)  # stopped early: 25 of 375 iterations
    np.testing.assert_allclose(worker.fit(codes, "umap", seed=2).points,
                               project_codes(codes, "umap", seed=2).points, atol=1e-4)
    assert whole.points.shape == (3000, 2)


def test_the_child_keeps_as_many_fitted_maps_as_the_worker_says(codes):
    worker = MapWorker(max_fitted=1)
    try:
        first = worker.fit(codes, "umap", seed=0)
        worker.fit(codes, "umap", seed=1)  # the child forgets the first map
        placed = first.transform(codes[:2])  # so it is fitted again, without a word to the caller
        np.testing.assert_allclose(placed, project_codes(codes, "umap", seed=0).transform(codes[:2]), atol=1e-3)
        assert worker._call(("transform", 0, codes[:2]), report_nothing) is not None  # refitted under token 0
        assert worker._call(("transform", 1, codes[:2]), report_nothing) is None  # and the second is gone
    finally:
        worker.close()


@pytest.mark.slow  # the child's start and three t-SNE fits: about 40 s on two busy cores
def test_requests_wait_in_line_saying_their_place_and_beyond_the_limit_are_refused(codes):
    worker = MapWorker(max_waiting=2)
    gate, messages, outcomes = threading.Event(), {}, {}

    def fit(seed, hold=False):
        def progress(fraction, message):
            messages.setdefault(seed, []).append(message)
            if hold:
                assert gate.wait(60)  # the request in flight holds the line until the test lets it go
        try:
            outcomes[seed] = worker.fit(codes, "tsne", seed=seed, progress=progress)
        except MapServerBusy as e:
            outcomes[seed] = e

    threads = [threading.Thread(target=fit, args=(0, True))]
    try:
        for seed in range(4):
            if seed:
                threads.append(threading.Thread(target=fit, args=(seed,)))
            threads[-1].start()
            assert wait_for(lambda s=seed: worker.queue_length() == min(s + 1, 3))
        assert wait_for(lambda: 3 in outcomes)  # a fourth would wait behind three: refused at once
        assert str(outcomes[3]) == "The map server is busy, try again in a moment."
        assert messages[1][-1] == "waiting for the map server: 1 map ahead of this one"
        assert messages[2][-1] == "waiting for the map server: 2 maps ahead of this one"
    finally:
        gate.set()
        for t in threads:
            t.join(timeout=120)
        worker.close()
    assert all(outcomes[s].points.shape == (300, 2) for s in (0, 1, 2))
    assert "waiting for the map server: 1 map ahead of this one" in messages[2]  # it moved up the line


def wait_for(condition, timeout=60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
