"""Contractive autoencoder (`contractive`): an `ae` penalised by ‖∂h/∂x‖²_F, the encoder's Jacobian.

For one sigmoid layer the norm has the closed form Σ_j (h_j(1-h_j))² ‖W_j‖² (Rifai et al., 2011),
computed exactly. Deeper or other encoders use an unbiased estimate: for v ~ N(0, I),
E‖vᵀJ‖² = ‖J‖²_F, one extra backward pass per batch.
"""
from __future__ import annotations

from typing import cast

import torch
from torch import nn

from aecore.configs import ContractiveConfig
from aecore.models.ae import AE


class ContractiveAE(AE):
    family = "contractive"
    config_class = ContractiveConfig
    loss_parts = ("recon", "contraction")

    def _single_sigmoid_layer(self) -> bool:
        return len(self.encoder) == 1 and self.cfg.code_activation == "sigmoid"

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        # The stochastic estimate needs gradients with respect to the input: a new leaf, so the
        # caller's tensor is not switched to requires_grad behind its back.
        if self.training and torch.is_grad_enabled() and not self._single_sigmoid_layer():
            return x.detach().requires_grad_(True)
        return x

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        if self._single_sigmoid_layer():
            w_sq = (cast(nn.Linear, self.encoder[0]).weight ** 2).sum(dim=1)  # (H,)
            jac = ((code * (1 - code)) ** 2 * w_sq).sum(dim=1).mean()
        elif x_in.requires_grad and torch.is_grad_enabled():
            v = torch.randn_like(code)
            (vj,) = torch.autograd.grad(code, x_in, grad_outputs=v, create_graph=True)  # (B, 784)
            jac = (vj ** 2).sum(dim=1).mean()
        else:  # evaluation without gradients: report the reconstruction only
            jac = torch.zeros((), device=code.device)
        return {"contraction": self.cfg.contraction_weight * jac}
