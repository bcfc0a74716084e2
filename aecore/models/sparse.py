"""Sparse autoencoder (`sparse`): an `ae` whose code is pushed towards few active units.

Two classic penalties: `l1` on the code activations (weight × Σ|h|), or `kl`, the KL divergence
between a target mean activation ρ and each unit's mean activation over the batch (Ng's notes; needs
codes in (0, 1), so the code activation is sigmoid). Works overcomplete (code wider than 784).
"""
from __future__ import annotations

import torch

from aecore.configs import SparseConfig
from aecore.models.ae import AE


class SparseAE(AE):
    family = "sparse"
    config_class = SparseConfig
    loss_parts = ("recon", "sparsity")

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if cfg.sparsity == "l1":
            return {"sparsity": cfg.sparsity_weight * code.abs().sum(dim=1).mean()}
        rho = cfg.sparsity_target
        rho_hat = code.float().mean(dim=0).clamp(1e-6, 1 - 1e-6)  # (code,)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return {"sparsity": cfg.sparsity_weight * kl.sum()}
