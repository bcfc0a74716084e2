"""Background training jobs shared by the whole process (every browser session of the dashboard).

`JobRegistry.submit(spec)` returns a `Job` at once. The same settings on the same data submitted
twice (two tabs, a lecture hall) join the job already queued or running instead of training twice,
and a spec already in the model store comes back as a finished job. At most `max_running` jobs train
at once (default one: they would only fight over the same cores or GPU); the rest wait, queued, in
the order they were submitted (`queue_position`). A job submitted for an `owner` (a browser session)
is that owner's; an owner has at most one job waiting at a time, so one student cannot fill the
queue. Jobs without an owner (models a page needs for everyone) are shared and count for no one.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aecore.errors import AecoreError
from aecore.runs import TrainedModel, resolve, train_and_store
from aecore.spec import RunSpec
from aecore.store import ModelStore, StoredModel

if TYPE_CHECKING:  # torch and the trainer are imported by the job's thread, not by whoever lists the jobs
    from aecore.trainer import ProbeSnapshot, Progress, Trainer

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
PROGRESS_EVERY_S = 0.1  # batch snapshots kept at most this often; epoch ends are always kept
_ORDER = itertools.count()
MAX_FINISHED = 64  # finished jobs remembered by the registry (results also live in the store)


class QueueLimitError(AecoreError):
    """An owner asked for a second waiting job."""


class Job:
    """One training run. Read `state`, `progress()`, `latest`, `latest_probe`, `error`, `result`;
    call `cancel()`. The registry moves it on with `found`, `begin`, `attach`, `finish` and `fail`."""

    def __init__(self, key: str, spec: RunSpec, owner: str | None = None, title: str | None = None):
        self.key, self.spec = key, spec
        self.title = title or spec.label()  # what the progress bar names
        self.owner = owner  # the session that asked for it first; None for a shared job
        self.state = QUEUED
        self.error: str | None = None  # one sentence when failed
        self.warning: str | None = None  # e.g. the model could not be saved
        self.result: StoredModel | None = None  # set when done (or cancelled with a partial model)
        self.latest: dict | None = None  # the newest progress snapshot
        self.latest_probe: ProbeSnapshot | None = None  # the probe digits' codes after the latest epoch
        self.created = time.time()
        self.order = next(_ORDER)  # submission order: the queue is first come, first served
        self.finished_at: float | None = None
        self._progress: list[dict] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._trainer: Trainer | None = None
        self._last_kept = 0.0

    def __repr__(self):
        return f"Job({self.key}, {self.title}, {self.state})"

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def joinable(self) -> bool:
        """Whether a new submission of the same spec should join this job rather than start another."""
        return self.state in (QUEUED, RUNNING, DONE) and not self._cancel.is_set()

    def progress(self) -> list[dict]:
        """Snapshots so far (batch snapshots thinned to PROGRESS_EVERY_S, every epoch end)."""
        with self._lock:
            return list(self._progress)

    def epochs(self) -> list[dict]:
        return [p for p in self.progress() if p["event"] == "epoch"]

    def cancel(self) -> None:
        """Stop the job; a running one keeps the model trained so far in `result` (not stored)."""
        self._cancel.set()
        with self._lock:
            trainer = self._trainer
            if self.state == QUEUED and trainer is None:  # never started: end now, not when a slot frees
                self._end(CANCELLED)
        if trainer is not None:
            trainer.request_stop()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def begin(self) -> bool:
        """Queued -> running, unless cancelled meanwhile (then the job ends). Returns whether to train."""
        with self._lock:  # against a cancel() arriving at this moment
            if self._cancel.is_set():
                if not self.done:
                    self._end(CANCELLED)
                return False
            self.state = RUNNING
            return True

    def attach(self, trainer: Trainer) -> None:
        """The trainer running this job, so that `cancel` can stop it."""
        with self._lock:
            self._trainer = trainer
        if self._cancel.is_set():
            trainer.request_stop()

    def record(self, progress: Progress) -> None:
        """The trainer's progress callback: keeps the snapshot and the probe digits' latest codes."""
        if progress.probe is not None:
            self.latest_probe = progress.probe
        now = time.monotonic()
        if progress.event == "batch" and now - self._last_kept < PROGRESS_EVERY_S:
            self.latest = progress.to_dict()
            return
        self._last_kept = now
        snap = progress.to_dict()
        with self._lock:
            self._progress.append(snap)
            self.latest = snap

    def found(self, stored: StoredModel) -> None:
        """Done at once: the model was already in the store."""
        with self._lock:
            self.result = stored
            self._progress = list(stored.meta.get("history", []))
            self._end(DONE)

    def finish(self, trained: TrainedModel) -> None:
        """Done with the trained model, or cancelled with the partial one."""
        with self._lock:
            self._trainer = None
            self.result, self.warning = trained.stored, trained.warning
            self._end(CANCELLED if trained.stopped_early else DONE)

    def fail(self, error: str) -> None:
        with self._lock:
            self._trainer = None
            self.error = error
            self._end(FAILED)

    def _end(self, state: str) -> None:
        self.state = state
        self.finished_at = time.time()
        self._finished.set()


class JobRegistry:
    def __init__(self, store: ModelStore | None = None, max_running: int = 1, device: Any = None):
        self.store = store or ModelStore()
        self.device = device
        self.max_running = max_running
        self._running = 0
        self._turn = threading.Condition()  # a waiting job starts when a slot is free and it is first in line
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, spec: RunSpec, owner: str | None = None) -> Job:
        """Start (or join) training for `spec`; raises AecoreError for bad data at once, and
        QueueLimitError when `owner` already has another job waiting (joining one is always allowed)."""
        spec, data = resolve(spec)
        key = spec.key(data.fingerprint)
        with self._lock:
            job = self._jobs.get(key)
            # A cancelled job stays queued or running until its thread notices; never join it.
            if job is not None and job.joinable:
                return job
            if owner is not None and self.store.read_meta(key) is None:
                waiting = [j for j in self._jobs.values() if j.owner == owner and j.state == QUEUED and j.joinable]
                if waiting:
                    raise QueueLimitError(f"Your run {waiting[0].spec.label()} is still waiting for its turn; "
                                          "stop it or wait until it starts before queueing another")
            job = Job(key, spec, owner)
            self._jobs[key] = job
            self._forget_old()
        stored = self.store.load(key)
        if stored is not None:
            job.found(stored)
            return job
        threading.Thread(target=self._run, args=(job, data), name=f"aecore-job-{key}", daemon=True).start()
        return job

    def submit_task(self, key: str, spec: RunSpec, work: Callable[..., TrainedModel], *, title: str,
                    owner: str | None = None) -> Job:
        """Run `work(callbacks=..., on_trainer=...)`, a training other than a spec's (a fine-tune), as a
        job named `key`, queued with the others; its model is kept in the job's `result`, not stored.
        `spec` is the model it starts from. Joining and the owner's queue limit are as for `submit`."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.joinable:
                return job
            if owner is not None:
                waiting = [j for j in self._jobs.values() if j.owner == owner and j.state == QUEUED and j.joinable]
                if waiting:
                    raise QueueLimitError(f"Your run {waiting[0].title} is still waiting for its turn; "
                                          "stop it or wait until it starts before queueing another")
            job = Job(key, spec, owner, title=title)
            self._jobs[key] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, None, work), name=f"aecore-task-{key}", daemon=True).start()
        return job

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def forget(self, key: str) -> None:
        """Drop a finished job (e.g. after its model was deleted from the store), so the next
        submission of its spec trains again instead of returning the old result."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.done:
                del self._jobs[key]

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def queue_position(self, job: Job) -> int | None:
        """1 for the next job to start, 2 for the one after it, ...; None unless `job` is waiting."""
        with self._lock:
            waiting = sorted((j for j in self._jobs.values() if j.state == QUEUED and j.joinable),
                             key=lambda j: j.order)
        return next((i + 1 for i, j in enumerate(waiting) if j is job), None)

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.done), key=lambda j: j.finished_at or 0)
        for j in finished[:max(0, len(finished) - MAX_FINISHED)]:
            del self._jobs[j.key]

    def _run(self, job: Job, data, work: Callable[..., TrainedModel] | None = None) -> None:
        # torch's thread count is per thread, so a job sets its own. No long-lived thread may run parallel
        # torch ops beside it: its OpenMP workers then outnumber the cores and sleep (bench.dashboard_overhead).
        import torch

        from aecore.device import DEFAULT_THREADS

        torch.set_num_threads(DEFAULT_THREADS)
        with self._turn:
            while not job.done and not (self._running < self.max_running and self._first_waiting() is job):
                self._turn.wait(0.5)  # a cancel ends a waiting job without notifying
            started = job.begin()
            self._running += started
            self._turn.notify_all()  # the next in line may be first now
        if not started:
            return
        try:
            # share_cores: the page's browser often runs on the same machine (aecore.device.CoreSharing)
            callbacks = {"on_batch_end": [job.record], "on_epoch_end": [job.record]}
            if work is not None:
                job.finish(work(callbacks=callbacks, on_trainer=job.attach))
            else:
                job.finish(train_and_store(job.spec, data, self.store, device=self.device, on_trainer=job.attach,
                                           share_cores=True, callbacks=callbacks))
        except AecoreError as e:
            job.fail(str(e))
        except Exception as e:  # a bug, not bad input: keep the traceback in the log
            log.exception("training job %s failed", job.key)
            job.fail(f"training failed unexpectedly ({type(e).__name__}: {e})")
        finally:
            with self._turn:
                self._running -= 1
                self._turn.notify_all()

    def _first_waiting(self) -> Job | None:
        with self._lock:
            waiting = [j for j in self._jobs.values() if j.state == QUEUED and j.joinable]
        return min(waiting, key=lambda j: j.order, default=None)


_default: JobRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> JobRegistry:
    """The process-wide registry (one per dashboard server)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JobRegistry()
        return _default
