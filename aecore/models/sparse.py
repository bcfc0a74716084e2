"""Sparse autoencoder (`sparse`): an `ae` whose code is pushed towards few active units.

Two classic penalties: `l1` on the code activations (weight × Σ|h|), or `kl`, the KL divergence
between a target mean activation ρ and each unit's mean activation over the batch (Ng's notes; needs
codes in (0, 1), so the code activation is sigmoid). Works overcomplete (code wider than 784).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from aecore.models.ae import AE, AEConfig
from aecore.validation import check_choice, check_float
from aecore.errors import ConfigError


@dataclass(frozen=True)
class SparseConfig(AEConfig):
    hidden: tuple[int, ...] = (256,)
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    sparsity: str = "kl"  # kl (target mean activation) | l1 (activity penalty)
    sparsity_target: float = 0.05  # ρ, the wanted mean activation of each code unit (kl only)
    sparsity_weight: float = 1.0  # weight of the penalty against the summed reconstruction loss

    def __post_init__(self):
        super().__post_init__()
        check_choice("sparsity", self.sparsity, ("kl", "l1"))
        check_float("sparsity target", self.sparsity_target, 0.0, 1.0, lo_open=True)
        if self.sparsity_target >= 1:
            raise ConfigError("sparsity target must be below 1")
        check_float("sparsity weight", self.sparsity_weight, 0.0, 1000.0)
        if self.sparsity == "kl" and self.code_activation != "sigmoid":
            raise ConfigError("the KL sparsity penalty needs code_activation='sigmoid' (codes in 0..1)")


class SparseAE(AE):
    family = "sparse"
    config_class = SparseConfig

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if cfg.sparsity == "l1":
            return {"sparsity": cfg.sparsity_weight * code.abs().sum(dim=1).mean()}
        rho = cfg.sparsity_target
        rho_hat = code.float().mean(dim=0).clamp(1e-6, 1 - 1e-6)  # (code,)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return {"sparsity": cfg.sparsity_weight * kl.sum()}
