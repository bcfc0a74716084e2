"""Which device to train on (CUDA, then Apple MPS, then CPU, unless the caller names one), and on how
many CPU threads."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from aecore.errors import ConfigError

DEFAULT_THREADS = torch.get_num_threads()  # the process's intra-op threads, read when aecore is imported
SMALL_BATCH = 64  # rows below which a forward pass runs on one thread (see single_threaded)
OTHERS_BUSY_CORES = 0.5  # CPU that other processes use, in cores, from which training leaves them a core
SHARE_CHECK_S = 2.0  # how often training that shares the machine looks at what the others use


def pick_device(name: str | None = None) -> torch.device:
    """`name` is "auto"/None, or a torch device string such as "cpu" or "cuda:0"."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but no CUDA GPU is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("MPS was asked for but is not available")
    return device


def _cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX), as torch reports it."""
    try:
        caps = torch.cpu.get_capabilities()
    except Exception:  # cpuinfo could not read this CPU: assume emulated bfloat16, the safe side
        return False
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


CPU_BF16 = _cpu_has_native_bf16()


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision where it is safe and faster: bfloat16 (no loss scaling needed) on CUDA GPUs
    that support it and on CPUs with bfloat16 in hardware (AVX512-BF16, AMX), faster there with the same
    test loss (bench.vae_quality). None elsewhere: emulated bfloat16 is slower than float32 for these
    small MLPs."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and CPU_BF16:
        return torch.bfloat16
    return None


@contextmanager
def single_threaded(enabled: bool = True) -> Iterator[None]:
    """Run the block with one torch intra-op thread in this thread (torch counts threads per thread).

    For a forward pass of a few rows, a second thread saves nothing and costs a great deal when
    the other core is busy (a browser drawing, a training job): the pass waits for a descheduled
    worker (the Draw page's rerun, bench.interaction).
    """
    if not enabled:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class OtherProcessesCpu:
    """How much CPU the machine's other processes used since the last reading, in cores (Linux's
    /proc; None where it cannot be read).

    Training on every core while another process keeps one busy is slow out of proportion: each
    parallel region waits for its descheduled thread, and the waiting thread spins
    (bench.dashboard_overhead --busy-core).
    """

    def __init__(self):
        self._last = _cpu_ticks()

    def cores(self) -> float | None:
        now, last = _cpu_ticks(), self._last
        self._last = now
        if now is None or last is None or now[2] <= last[2]:
            return None
        others = (now[0] - last[0]) - (now[1] - last[1])  # busy ticks of the machine, less this process's
        return max(others, 0) / _TICKS_PER_S / (now[2] - last[2])


_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_ticks() -> tuple[int, int, float] | None:
    """(busy ticks of the whole machine, of this process, monotonic seconds), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in f.readline().split()[1:8])
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces: split after it
        return user + nice + system + irq + softirq, int(own[11]) + int(own[12]), time.monotonic()
    except (OSError, ValueError, IndexError):
        return None


def training_threads(others_cores: float | None, available: int) -> int:
    """Threads for training, of `available`, when other processes use `others_cores` of the CPU: all
    while they are (nearly) idle, else the cores they leave free, at least one."""
    if others_cores is None or others_cores < OTHERS_BUSY_CORES:
        return available
    return max(1, available - math.ceil(others_cores))


class CoreSharing:
    """Training threads that follow what other processes use: every core while they are idle, one
    fewer per core they busy (`training_threads`), looked at every SHARE_CHECK_S. For training in the
    dashboard, whose browser often runs on the same machine. Use from the training thread (torch
    counts threads per thread); `restore` gives that thread its threads back."""

    def __init__(self):
        self.available = torch.get_num_threads()
        self._others = OtherProcessesCpu()
        self._next = time.monotonic() + SHARE_CHECK_S

    def check(self) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + SHARE_CHECK_S
            torch.set_num_threads(training_threads(self._others.cores(), self.available))

    def restore(self) -> None:
        torch.set_num_threads(self.available)
