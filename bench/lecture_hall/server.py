"""The dashboard under test and what is measured on its side: a prepared model cache, the server
process started as the README says (loopback only), its memory, and the models it saves.

Training jobs are counted from the model store itself: `ModelStore.save` writes every entry into a
fresh `.tmp-<key>-*` directory before renaming it into place, so each creation of such a directory
under `<AECORE_HOME>/models` is one finished training run. They are watched with inotify, which sees
every creation however short-lived; where inotify is missing, the folder is polled instead.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Trains the lecture's model of each family named (none named: the lecture set, as `aecore prepare` does before a
# lecture, and unless told otherwise every other family's, the stacked page's among them); prints the keys.
_PREPARE_LECTURE = """
import sys
from aecore.configs import FAMILIES
from aecore.runs import get_or_train
from aecore.spec import lecture_spec, lecture_specs
dataset, every_family, families = sys.argv[1], sys.argv[2] == "every", sys.argv[3:]
lecture = lecture_specs(dataset)  # and every other family's lecture model: Train and Face-off train any missing one
others = [lecture_spec(f, dataset) for f in FAMILIES if f not in {s.family for s in lecture}] if every_family else []
specs = [lecture_spec(f, dataset) for f in families] or [*lecture, *others]
for spec in specs:
    print(get_or_train(spec)[0].key)
"""


# ---- the model cache ------------------------------------------------------------------------------

PREPARED_MODELS_ENV = "LATENTLAB_PREPARED_MODELS"  # a home whose trained models every prepare_home shares


def prepare_home(home: Path, dataset: str = "mnist-sample", families: tuple[str, ...] = (),
                 every_family: bool = True) -> list[str]:
    """Train the lecture's model of each of `families` into `home` (by default every model the pages open
    on, so that no page starts a training job of its own during a measurement; without `every_family` the
    lecture set alone, `aecore.spec.lecture_specs`); returns their keys.
    Where $LATENTLAB_PREPARED_MODELS names a home, its models are copied in first and the new ones back,
    so the test modules that prepare a home train the lecture set once between them."""
    shared = os.environ.get(PREPARED_MODELS_ENV)
    had = set(_entries(home))
    if shared:
        copy_models(Path(shared), home)
    env = {**os.environ, "AECORE_HOME": str(home)}
    run = subprocess.run([sys.executable, "-c", _PREPARE_LECTURE, dataset, "every" if every_family else "set",
                          *families], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        raise RuntimeError(f"preparing the model cache failed: {run.stderr.strip()[-500:]}")
    keys = run.stdout.split()
    if shared:
        copy_models(home, Path(shared))
        for extra in set(_entries(home)) - had - set(keys):  # the home holds what was asked for, no more
            shutil.rmtree(home / "models" / extra, ignore_errors=True)
    return keys


def _entries(home: Path) -> list[str]:
    models = home / "models"
    return [e.name for e in models.iterdir() if e.is_dir() and not e.name.startswith(".")] if models.is_dir() else []


def copy_models(source_home: Path, target_home: Path) -> None:
    """Copy the stored models of `source_home` that `target_home` lacks (a key names its content)."""
    source, target = source_home / "models", target_home / "models"
    if not source.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and not (target / entry.name).exists():
            staging = target / f".copy-{entry.name}-{os.getpid()}"
            shutil.copytree(entry, staging)
            try:
                staging.rename(target / entry.name)
            except OSError:  # another process put the same model there meanwhile
                shutil.rmtree(staging, ignore_errors=True)


def entry_spec(home: Path, key: str) -> dict:
    """The stored spec and label of the model under `key` ({} if it cannot be read)."""
    try:
        meta = json.loads((home / "models" / key / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
    return {"label": meta.get("label", key), **meta.get("spec", {})}


# ---- the server -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, log_path: Path | None = None, *, warmup: bool = True,
                 numba_cache: Path | None = None, options: tuple[str, ...] = (),
                 script: str = "app/Home.py") -> tuple[subprocess.Popen, str, Path]:
    """Start `streamlit run <script>` (the dashboard unless told otherwise; relative to the repository)
    on a free 127.0.0.1 port with AECORE_HOME=home, without waiting for it; (the process, its base
    URL, its log file). Its output goes to `log_path` (default: a log file in `home` named after the
    port). `options` are extra Streamlit config options as "section.name=value", for what-if runs."""
    port = free_port()
    env = {**os.environ, "AECORE_HOME": str(home), "LATENTLAB_WARMUP": "1" if warmup else "0"}
    if numba_cache is not None:
        env.setdefault("NUMBA_CACHE_DIR", str(numba_cache))
    log_path = log_path or home / f"streamlit-{port}.log"
    with open(log_path, "w") as log:  # the server keeps its own copy of the file descriptor
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
             *(f"--{option}" for option in options)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return server, f"http://127.0.0.1:{port}", log_path


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextlib.contextmanager
def dashboard(home: Path, log_path: Path | None = None, *, warmup: bool = True, numba_cache: Path | None = None,
              options: tuple[str, ...] = (), timeout_s: float = 120,
              script: str = "app/Home.py") -> Iterator[tuple[str, subprocess.Popen]]:
    """`start_server`, then wait until the server answers its health check; yields (base URL, process)."""
    server, url, log_path = start_server(home, log_path, warmup=warmup, numba_cache=numba_cache, options=options,
                                         script=script)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the dashboard did not start; see {log_path}") from None
                time.sleep(0.3)
        yield url, server
    finally:
        stop_server(server)


def log_tracebacks(log_path: Path) -> list[str]:
    """The last line of every Python traceback the server printed (the exception it names)."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            out.append(lines[j] if j < len(lines) else line)
    return out


# ---- memory ---------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def tree_rss_bytes(pid: int) -> int:
    """VmRSS of `pid` and all its descendants, in bytes (0 once the process is gone)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
        todo += _children(p)
    return total


class MemorySampler:
    """Samples the RSS of a process tree every `every_s` seconds in a thread; `peak` is the maximum."""

    def __init__(self, pid: int, every_s: float = 0.25):
        self.pid, self.every_s = pid, every_s
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            rss = tree_rss_bytes(self.pid)
            if rss:
                self.peak = max(self.peak, rss)
                self.samples.append((time.monotonic() - start, rss))
            self._stop.wait(self.every_s)


# ---- saved models ---------------------------------------------------------------------------------

_IN_CREATE, _IN_MOVED_TO, _IN_ISDIR = 0x100, 0x80, 0x40000000
_EVENT = struct.Struct("iIII")


class SaveWatcher:
    """Counts the model saves under `models_dir` while it runs: `saves[key]` is how many times
    `key` was written (one per finished training run), `entries` the entries that appeared."""

    def __init__(self, models_dir: Path):
        self.models_dir = models_dir
        self.saves: Counter[str] = Counter()
        self.entries: list[str] = []
        self.method = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._fd = -1

    def __enter__(self) -> SaveWatcher:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self._fd = self._inotify()
        self.method = "inotify" if self._fd >= 0 else "polling"
        target = self._read_inotify if self._fd >= 0 else self._poll
        self._before = set(os.listdir(self.models_dir))
        self._thread = threading.Thread(target=target, name="save-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._fd >= 0:
            os.close(self._fd)

    def total(self) -> int:
        with self._lock:
            return sum(self.saves.values())

    def _seen(self, name: str) -> None:
        with self._lock:
            if name.startswith(".tmp-"):
                self.saves[name.split("-")[1]] += 1
            elif not name.startswith(".") and name not in self.entries:
                self.entries.append(name)

    def _inotify(self) -> int:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                return -1
            if libc.inotify_add_watch(fd, str(self.models_dir).encode(), _IN_CREATE | _IN_MOVED_TO) < 0:
                os.close(fd)
                return -1
            return fd
        except (OSError, AttributeError):
            return -1

    def _read_inotify(self) -> None:
        import select
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            i = 0
            while i + _EVENT.size <= len(data):
                _, mask, _, length = _EVENT.unpack_from(data, i)
                name = data[i + _EVENT.size:i + _EVENT.size + length].rstrip(b"\0").decode(errors="replace")
                i += _EVENT.size + length
                if mask & _IN_ISDIR and name:
                    self._seen(name)

    def _poll(self) -> None:
        seen: set[str] = set(os.listdir(self.models_dir))
        while not self._stop.is_set():
            now = set(os.listdir(self.models_dir))
            for name in now - seen:
                self._seen(name)
            seen = now
            self._stop.wait(0.01)
