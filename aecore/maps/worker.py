"""t-SNE and UMAP maps fitted in a separate process, for servers such as the dashboard.

In the dashboard's own process a UMAP fit would cost the first map about 3 s of imports (scikit-learn,
scipy, numba, umap) and hold the GIL through numba's layout loop, stalling every other browser
session for the length of the fit. A `MapWorker` owns one child process that imports and warms UMAP
and openTSNE as soon as it starts (on another core, without the server's GIL), fits maps there and
keeps the fitted ones to place new codes (a drawn digit) on them. If the child dies (a native crash
takes only it down), the next request starts a new one; a map it had fitted is fitted again, from
the same codes and seed, the first time a new code must be placed on it.

The parent and the child talk over two pipes of length-prefixed pickles. Pickle is safe here: both
ends are this module, and the pipes are private to the two processes.

    worker = MapWorker()
    worker.start()                      # optional: begin importing and warming now
    projection = worker.fit(codes, "umap", seed=0, progress=print)
    projection.transform(new_codes)
"""
from __future__ import annotations

import atexit
import itertools
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy as np

from aecore.errors import AecoreError, ConfigError, DataError
from aecore.maps.projection import (
    MIN_POINTS,
    Progress,
    Projection,
    checked_codes,
    method_params,
    project_codes,
    read_only_points,
    warm_up_umap,
)

WORKER_METHODS = ("tsne", "umap")  # PCA is fast and light enough to fit in the caller's process
MAX_WAITING = 3  # bench/README.md, "Map server queue": 8 concurrent t-SNE requests, the longest wait
_HEADER = struct.Struct("<Q")
_ERRORS = {cls.__name__: cls for cls in (ConfigError, DataError, ValueError)}  # re-raised as themselves


class MapWorkerError(AecoreError):
    """The map process stopped, or failed in a way the input does not explain."""


class MapServerBusy(AecoreError):
    """More requests are waiting than MapWorker.max_waiting."""


def _send(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(stream: BinaryIO) -> Any:
    size = _HEADER.unpack(_read_exactly(stream, _HEADER.size))[0]
    return pickle.loads(_read_exactly(stream, size))


class _Cancelled(Exception):
    """Raised in the child when the parent gave up on the fit in progress."""


class MapWorker:
    """One child process fitting t-SNE and UMAP maps, one request at a time, for any number of threads.

    Parameters
    ----------
    max_fitted : int
        Fitted maps the child keeps for placing new codes; older ones are fitted again when needed.
    max_waiting : int
        Requests that may wait behind the one in flight, first come, first served; one more is refused
        with MapServerBusy, so a wait stays bounded by about that many fits.
    """

    def __init__(self, max_fitted: int = 32, max_waiting: int = MAX_WAITING):
        self.max_fitted = max_fitted
        self.max_waiting = max_waiting
        self._lock = threading.Lock()  # one request in flight: the pipes carry one conversation
        self._line: list[object] = []  # requests in arrival order; the first is in flight
        self._line_changed = threading.Condition()
        self._process: subprocess.Popen | None = None
        self._to_child: BinaryIO | None = None
        self._from_child: BinaryIO | None = None
        self._tokens = itertools.count()
        self._ready = False  # the child has answered once: its imports and warm-up are done

    # ---- the child process ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the child if it is not running; it imports and warms UMAP and openTSNE at once.
        Never waits: while a request is in flight the child is running (or is restarted by it)."""
        if self._lock.acquire(blocking=False):
            try:
                self._ensure_started()
            finally:
                self._lock.release()

    @property
    def pid(self) -> int | None:
        """The child's process id, or None before it starts."""
        return None if self._process is None else self._process.pid

    def close(self) -> None:
        """Stop the child (a later request starts a new one)."""
        with self._lock:
            self._stop()

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "aecore.maps.worker", str(to_child_r), str(from_child_w),
                 str(self.max_fitted)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._to_child = os.fdopen(to_child_w, "wb")
        self._from_child = os.fdopen(from_child_r, "rb")

    def _stop(self) -> None:
        for stream in (self._to_child, self._from_child):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = self._to_child = self._from_child = None
        self._ready = False

    def _call(self, request: tuple, progress: Progress) -> Any:
        """Wait for the request's turn (saying where it stands), then `_converse`."""
        ticket = object()
        with self._line_changed:
            if len(self._line) > self.max_waiting:
                raise MapServerBusy("The map server is busy, try again in a moment.")
            self._line.append(ticket)
        try:
            told = None
            while True:
                with self._line_changed:
                    ahead = self._line.index(ticket)
                    if ahead and ahead == told:
                        self._line_changed.wait(1.0)
                        ahead = self._line.index(ticket)
                if not ahead:
                    break
                if ahead != told:  # outside the lock: a report may redraw a page
                    maps = f"{ahead} map{'s' if ahead > 1 else ''}"
                    progress(0.0, f"waiting for the map server: {maps} ahead of this one")
                    told = ahead
            return self._converse(request, progress)
        finally:
            with self._line_changed:
                self._line.remove(ticket)
                self._line_changed.notify_all()

    def queue_length(self) -> int:
        """Requests in flight or waiting."""
        with self._line_changed:
            return len(self._line)

    def _converse(self, request: tuple, progress: Progress) -> Any:
        """Send `request`, forward progress reports, return the child's answer."""
        self._lock.acquire()  # free but for start() or close() in another thread
        try:
            self._ensure_started()
            if not self._ready:
                progress(0.0, "loading the map code: a few seconds, once per server (the first time on a "
                              "machine it compiles, about half a minute)")
            to_child, from_child = self._pipes()
            try:
                _send(to_child, request)
                while True:
                    kind, *body = _receive(from_child)
                    if kind == "progress":
                        try:
                            progress(*body)
                        except BaseException:  # e.g. Streamlit stopping the run for a rerun
                            self._abandon()
                            raise
                    elif kind == "error":
                        self._ready = True
                        name, message = body
                        raise _ERRORS.get(name, MapWorkerError)(message if name in _ERRORS else f"{name}: {message}")
                    else:
                        self._ready = True
                        return body[0]
            except (EOFError, OSError, pickle.UnpicklingError) as e:
                code = self._process.poll() if self._process is not None else None
                self._stop()
                how = f"exit code {code}" if code is not None else type(e).__name__
                raise MapWorkerError(f"the map process stopped unexpectedly ({how}); try again: it "
                                     "restarts") from e
        finally:
            self._lock.release()

    def _abandon(self) -> None:
        """The caller gave up on the request in flight: ask the child to stop (t-SNE stops at its next
        progress report, UMAP runs to the end) and read the rest of its answer, so the next request
        reads only its own."""
        to_child, from_child = self._pipes()
        _send(to_child, ("cancel", None))
        while _receive(from_child)[0] == "progress":
            pass

    def _pipes(self) -> tuple[BinaryIO, BinaryIO]:
        if self._to_child is None or self._from_child is None:
            raise MapWorkerError("the map worker is not running")
        return self._to_child, self._from_child

    # ---- maps -------------------------------------------------------------------------------------

    def fit(self, codes: np.ndarray, method: str, *, seed: int = 0, perplexity: float = 30.0,
            n_neighbors: int = 15, min_dist: float = 0.1, progress: Progress | None = None) -> Projection:
        """`project_codes` for "tsne" and "umap", fitted in the child; same arguments and result."""
        if method not in WORKER_METHODS:
            raise ConfigError(f"the map process fits {' and '.join(WORKER_METHODS)}, not {method!r}")
        params = method_params(method, perplexity, n_neighbors, min_dist)
        data = checked_codes(codes, min_points=MIN_POINTS)  # checked here, so bad input never reaches the child
        report = progress or report_nothing
        token = next(self._tokens)
        points, used = self._call(("fit", token, data, method, seed, params), report)

        def place(new_codes: np.ndarray) -> np.ndarray:
            placed = self._call(("transform", token, new_codes), report_nothing)
            if placed is None:  # a new child since the fit: fit the same map again (same codes and seed)
                self._call(("fit", token, data, method, seed, params), report_nothing)
                placed = self._call(("transform", token, new_codes), report_nothing)
            return placed

        return Projection(read_only_points(points), method, used, data.shape[1], place)


def report_nothing(fraction: float, message: str) -> None:
    pass


_shared: MapWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> MapWorker:
    """The process's one `MapWorker` (created on first use, its child stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MapWorker()
            atexit.register(_shared.close)
        return _shared


# ---- the child's side ------------------------------------------------------------------------------

def serve(requests: BinaryIO, answers: BinaryIO, max_fitted: int = 32) -> None:
    """The child's loop: answer requests until the parent closes its pipe."""
    try:
        warm_up_umap()
        import openTSNE  # noqa: F401  (its compiled extensions load in a few tenths of a second)
    except Exception:  # a failed warm-up only costs the first map time; the error shows then
        pass
    fitted: OrderedDict[int, Projection] = OrderedDict()
    answer: Any  # the points and parameters of a fit, a transform's points, or None

    def report(fraction: float, message: str) -> None:
        _send(answers, ("progress", fraction, message))
        if select.select([requests], [], [], 0)[0]:  # during a fit the parent sends only "cancel"
            _receive(requests)
            raise _Cancelled("the caller stopped waiting for this map")

    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        op, token, *args = request
        if op == "cancel":  # came after the fit it meant had finished: nothing to stop, no answer
            continue
        try:
            if op == "fit":
                codes, method, seed, params = args
                projection = project_codes(codes, method, seed=seed, progress=report, **params)
                fitted[token] = projection
                while len(fitted) > max_fitted:
                    fitted.popitem(last=False)
                answer = (np.asarray(projection.points), projection.params)
            elif op == "transform":
                kept = fitted.get(token)
                if kept is not None:
                    fitted.move_to_end(token)
                answer = None if kept is None else kept.transform(args[0])
            else:
                raise ValueError(f"unknown request {op!r}")
        except Exception as e:  # the parent re-raises it; the child goes on serving
            _send(answers, ("error", type(e).__name__, str(e)))
        else:
            _send(answers, ("done", answer))


class _WithoutPandas:
    """An import hook that reports pandas as not installed. scikit-learn imports pandas when it can
    find it, a fifth of this child's start-up here (0.2-0.7 s of CPU, while a first map waits), and
    the maps never use it: they fit numpy arrays. Without it scikit-learn goes on as if it were not
    installed (an entry of None in `sys.modules` would not do: scikit-learn reads that entry)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("the map worker runs without pandas", name=name)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, _WithoutPandas())
    read_fd, write_fd, keep = (int(arg) for arg in sys.argv[1:4])
    # Unbuffered requests: `select` on the pipe must see every byte the parent sent (a "cancel").
    with os.fdopen(read_fd, "rb", buffering=0) as requests, os.fdopen(write_fd, "wb") as answers:
        try:
            serve(requests, answers, max_fitted=keep)
        except (BrokenPipeError, KeyboardInterrupt):  # the parent has gone
            pass
