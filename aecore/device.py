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


def _cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX), as torch reports it."""
    try:
        caps = torch._C._cpu._get_cpu_capability()  # private, hence the fallback
    except Exception:
        return False
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


CPU_BF16 = _cpu_has_native_bf16()


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision where it is safe and faster: bfloat16 (no loss scaling needed) on CUDA GPUs
    that support it and on CPUs with bfloat16 in hardware (AVX512-BF16, AMX), where 10 epochs of the
    784-400-20 VAE took 1.3-1.7x less time than in float32 (interleaved runs on a busy 2-core machine)
    with the same test loss within the spread of seeds. None elsewhere: emulated bfloat16 is slower
    than float32 for these small MLPs."""
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
