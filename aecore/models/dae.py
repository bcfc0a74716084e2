"""Denoising autoencoder (`dae`): an `ae` that reconstructs the clean input from a corrupted one.

Corruption kinds: `masking` zeroes each pixel with probability `level` (the classic dA of Vincent et
al.), `gaussian` adds N(0, level²) noise, `salt_pepper` sets a `level` fraction of pixels to 0 or 1.
The classic configuration is `DAEConfig(hidden=(500,), activation="sigmoid", code_activation="sigmoid",
tied=True, corruption="masking", level=0.3)` with SGD, lr 0.1, batch 20.
"""
from __future__ import annotations

import torch

from aecore.configs import DAEConfig
from aecore.models.ae import AE


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return a corrupted copy of `x` (B, 784) in [0, 1]; level 0 returns `x` itself."""
    if level == 0:
        return x
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if kind == "masking":
        return x * (noise >= level)
    if kind == "gaussian":
        return (x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)).clamp(0, 1)
    if kind == "salt_pepper":
        hit = noise < level
        salt = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) < 0.5
        return torch.where(hit, salt.to(x.dtype), x)
    raise ValueError(f"unknown corruption {kind!r}")


class DAE(AE):
    family = "dae"
    config_class = DAEConfig

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return corrupt(x, self.cfg.corruption, self.cfg.level) if self.training else x
