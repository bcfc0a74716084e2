"""What every benchmark shares: its command-line flags, a description of the machine, a stopwatch
that can leave evaluation out of a timing, the loss of a model on a split, smaller slices of a
dataset for `--quick`, a plain-text table, and the JSON line each benchmark prints last.

Timings on a shared machine are noisy, so the benchmarks measure the things they compare side by
side in one process and report ratios; the machine description carries the load average at the
start so a reader can tell a quiet run from a busy one.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from aecore.data import Dataset, load_dataset

DEFAULT_DATASET = "fashion-mnist"
QUICK_SIZES = {"train": 1000, "val": 200, "test": 500}  # --quick: enough digits to exercise every path
EVAL_BATCH = 2048


# ---- flags and the machine ----------------------------------------------------------------------

def bench_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark takes: --dataset, --quick, --threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help=f"dataset name or path, as for aecore (default {DEFAULT_DATASET})")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: a smoke test of the benchmark, not a measurement")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice)")
    return parser


def set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise SystemExit("--threads must be at least 1")
        torch.set_num_threads(threads)


def machine() -> dict[str, Any]:
    """CPU count, torch version and threads, and the load at the time of the call."""
    import sklearn

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "load_average": load,  # 1, 5 and 15 minutes; above the CPU count means other work competed
    }


def print_machine(info: dict[str, Any]) -> None:
    load = info["load_average"]
    print(f"machine: {info['cpus']} CPUs ({info['cpus_usable']} usable, {info['processor']}), "
          f"python {info['python']}, torch {info['torch']} with {info['torch_threads']} threads, "
          f"numpy {info['numpy']}, scikit-learn {info['sklearn']}, "
          f"load average {' / '.join(map(str, load)) if load else 'unknown'}")


# ---- timing -------------------------------------------------------------------------------------

class Stopwatch:
    """Seconds since `start()`, minus the time spent inside `paused()` blocks, on two clocks.

    `elapsed` is wall-clock time. `cpu` is this process's CPU time (all its threads), which other
    processes on a busy machine barely disturb: with one torch thread it is the steadier measure of
    how much work a loop does.
    """

    def __init__(self):
        self._started: tuple[float, float] | None = None
        self._excluded = [0.0, 0.0]

    @staticmethod
    def _now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def start(self) -> Stopwatch:
        self._started = self._now()
        self._excluded = [0.0, 0.0]
        return self

    def _since_start(self, clock: int) -> float:
        if self._started is None:
            return 0.0
        return self._now()[clock] - self._started[clock] - self._excluded[clock]

    @property
    def elapsed(self) -> float:
        return self._since_start(0)

    @property
    def cpu(self) -> float:
        return self._since_start(1)

    @contextmanager
    def paused(self) -> Iterator[None]:
        before = self._now()
        try:
            yield
        finally:
            after = self._now()
            self._excluded[0] += after[0] - before[0]
            self._excluded[1] += after[1] - before[1]


@contextmanager
def timed(into: dict, name: str) -> Iterator[None]:
    """Store the block's wall-clock seconds in `into[name]`."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[name] = time.perf_counter() - t0


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def ratio(a: float | None, b: float | None) -> float:
    """a / b, NaN when either is missing or b is zero."""
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return math.nan
    return a / b


# ---- data and evaluation ------------------------------------------------------------------------

def load_bench_data(name: str, quick: bool) -> Dataset:
    """The dataset, or with `quick` a seeded slice of it (QUICK_SIZES)."""
    data = load_dataset(name)
    return subset(data, **QUICK_SIZES) if quick else data


def subset(data: Dataset, train: int, val: int, test: int, seed: int = 0) -> Dataset:
    """A seeded slice of each split of `data`, as a `Dataset` of its own."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", train), ("val", val), ("test", test)):
        x, y = data.split(split)
        idx = np.sort(rng.permutation(len(x))[:n])
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[idx], y[idx]
    tag = f"{data.fingerprint}:{train}/{val}/{test}/{seed}"
    return Dataset(name=f"{data.name}[{train}/{val}/{test}]",
                   description=f"a slice of {data.description}", class_names=data.class_names,
                   fingerprint=hashlib.sha256(tag.encode()).hexdigest(), **arrays)


def image_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 784) float32 in [0, 1] on the CPU."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0)


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> dict[str, float]:
    """Mean per digit of each part of `model.loss` over `x`, in evaluation mode.

    Evaluation mode means no input corruption and, for a VAE, z = μ. The model's mode is restored.
    """
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        for k, v in model.loss(xb).items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


def warm_up(model: torch.nn.Module, steps: int = 5) -> None:
    """A few training steps on random pixels, so one-time costs (lazy initialisation in torch, the
    optimiser, the DataLoader's first iteration) are paid before anything is timed. `model` is a
    throwaway: its weights change."""
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.rand(steps * 64, 784, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for (xb,) in DataLoader(TensorDataset(x), batch_size=64):
        loss = model.loss(xb)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    evaluate_loss(model, x)


# ---- output -------------------------------------------------------------------------------------

def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats to `digits` significant figures (thousands separated), None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (float, np.floating)):
        return str(value)
    if math.isnan(value):
        return "-"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table: a title line, a header, a rule, then one line per row."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print()
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return round(value, 6) if math.isfinite(value) else None  # JSON has no NaN
    return value


def emit_json(payload: dict) -> None:
    """Print the benchmark's figures as one JSON object on the last line of standard output."""
    print()
    print(json.dumps(_json_safe(payload), separators=(",", ":")))
    sys.stdout.flush()
