"""Variational autoencoder with MLP encoder and decoder (`vae`, Kingma & Welling 2014).

The encoder gives μ and log σ² of q(z|x); training samples z = μ + exp(log σ²/2)·ε and minimises
BCE summed over pixels + β·KL(q(z|x) ‖ N(0, I)), both parts reported. `encode` returns μ, so maps
and reconstructions are deterministic. The default 2-D latent is the one that can be walked as a grid.
"""
from __future__ import annotations

from typing import cast

import torch
from torch import nn

from aecore.configs import VAEConfig
from aecore.models.base import INPUT_DIM, Autoencoder, reconstruction_loss


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) for each latent dimension, shape (B, D)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


class VariationalAutoencoder(Autoencoder):
    """Shared VAE logic; subclasses provide `encode_dist` and `decode_logits`."""

    is_variational = True
    loss_parts = ("recon", "kl")

    @property
    def code_dim(self) -> int:
        return self.cfg.latent

    def encode_dist(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # -> μ, log σ², each (B, D)
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, 784)
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_dist(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.encode_dist(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        recon = reconstruction_loss(self.decode_logits(z), x, "bce", logits=True).mean()
        kl = kl_per_dim(mu.float(), logvar.float()).sum(dim=1).mean()
        return {"loss": recon + self.cfg.beta * kl, "recon": recon, "kl": kl}

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode `n` codes drawn from the prior N(0, I); returns (n, 784)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.code_dim, generator=generator).to(device)
        return self.decode(z)


class VAE(VariationalAutoencoder):
    family = "vae"
    config_class = VAEConfig

    def __init__(self, cfg: VAEConfig):
        super().__init__(cfg)
        widths = (INPUT_DIM, *cfg.hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*layers)
        self.mu = nn.Linear(widths[-1], cfg.latent)
        self.logvar = nn.Linear(widths[-1], cfg.latent)
        back = (cfg.latent, *reversed(cfg.hidden))
        layers = []
        for a, b in zip(back[:-1], back[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*layers, nn.Linear(back[-1], INPUT_DIM))

    def encode_dist(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z):
        return self.decoder(z)

    def first_layer_weights(self) -> torch.Tensor:
        return cast(nn.Linear, self.encoder[0]).weight

    def first_layer_activations(self, x: torch.Tensor) -> torch.Tensor:  # (B, 784) -> (B, H)
        return self.encoder[:2](x)  # the first Linear and its ReLU
