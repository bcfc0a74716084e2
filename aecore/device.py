"""Which device to train on: CUDA, then Apple MPS, then CPU, unless the caller names one."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from aecore.errors import ConfigError

DEFAULT_THREADS = torch.get_num_threads()  # the process's intra-op threads, read when aecore is imported
SMALL_BATCH = 64  # rows below which a forward pass runs on one thread (see single_threaded)


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


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision where it is safe: bfloat16 on CUDA GPUs that support it (no loss scaling
    needed), none elsewhere (CPU autocast is slower than float32 for these small MLPs)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


@contextmanager
def single_threaded(enabled: bool = True) -> Iterator[None]:
    """Run the block with one torch intra-op thread in this thread (torch counts threads per thread).

    For a forward pass of a few rows, a second thread saves nothing and costs a great deal when
    the other core is busy (a browser drawing, a training job): the pass waits for a descheduled
    worker. On the Draw page, three models' passes over one digit measured ~20 ms that way instead
    of under 1 ms.
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
