"""Which device to train on: CUDA, then Apple MPS, then CPU, unless the caller names one."""
from __future__ import annotations

import torch

from aecore.errors import ConfigError


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
