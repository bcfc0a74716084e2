"""Denoising autoencoder (`dae`): an `ae` that reconstructs the clean input from a corrupted one.

Corruption kinds: `masking` zeroes each pixel with probability `level` (the classic dA of Vincent et
al.), `gaussian` adds N(0, level²) noise, `salt_pepper` sets a `level` fraction of pixels to 0 or 1.
The classic configuration is `DAEConfig(hidden=(500,), activation="sigmoid", code_activation="sigmoid",
tied=True, corruption="masking", level=0.3)` with SGD, lr 0.1, batch 20.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from aecore.models.ae import AE, AEConfig
from aecore.validation import check_choice, check_float

CORRUPTIONS = ("masking", "gaussian", "salt_pepper")


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


@dataclass(frozen=True)
class DAEConfig(AEConfig):
    hidden: tuple[int, ...] = (500,)
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    tied: bool = True
    corruption: str = "masking"  # masking | gaussian | salt_pepper
    level: float = 0.3  # masking/salt-and-pepper probability, or Gaussian σ; 0 = plain autoencoder

    def __post_init__(self):
        super().__post_init__()
        check_choice("corruption", self.corruption, CORRUPTIONS)
        check_float("corruption level", self.level, 0.0, 1.0)


class DAE(AE):
    family = "dae"
    config_class = DAEConfig

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return corrupt(x, self.cfg.corruption, self.cfg.level) if self.training else x
