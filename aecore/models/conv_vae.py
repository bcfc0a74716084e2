"""Convolutional VAE (`conv_vae`): the VAE loss of `vae` with a small conv encoder and a
transposed-conv decoder (after the Keras "variational_autoencoder_deconv" example).

Encoder: 28×28 -> strided 4×4 conv down to 14×14 (`filters`/2 channels) -> 3×3 conv with `filters`
channels -> dense `dense` -> μ, log σ². The decoder mirrors it with a strided transposed
convolution back to 28×28. The full-resolution layers are kept thin because on a 2-core CPU they
dominate the cost; all shapes are derived from the config. `layout="keras"` builds the Keras example's
own layers instead (four convolutions each side; 3,410,058 parameters at 64 filters, dense 128, latent 2).
"""
from __future__ import annotations

from torch import nn

from aecore.configs import ConvVAEConfig
from aecore.models.base import IMAGE_SIDE
from aecore.models.vae import VariationalAutoencoder

HALF = IMAGE_SIDE // 2  # 14: the one strided convolution halves the image


class ConvVAE(VariationalAutoencoder):
    family = "conv_vae"
    config_class = ConvVAEConfig

    def __init__(self, cfg: ConvVAEConfig):
        super().__init__(cfg)
        if cfg.layout == "keras":
            self._build_keras(cfg)
            return
        f = cfg.filters
        thin = max(f // 2, 1)  # channels of the layers that run at full 28×28 resolution
        flat = f * HALF * HALF
        self.encoder = nn.Sequential(
            nn.Conv2d(1, thin, 4, stride=2, padding=1), nn.ReLU(),  # (B, f/2, 14, 14)
            nn.Conv2d(thin, f, 3, padding=1), nn.ReLU(),  # (B, f, 14, 14)
            nn.Flatten(), nn.Linear(flat, cfg.dense), nn.ReLU(),  # (B, dense)
        )
        self.mu = nn.Linear(cfg.dense, cfg.latent)
        self.logvar = nn.Linear(cfg.dense, cfg.latent)
        self.decoder = nn.Sequential(
            nn.Linear(cfg.latent, cfg.dense), nn.ReLU(),
            nn.Linear(cfg.dense, flat), nn.ReLU(),
            nn.Unflatten(1, (f, HALF, HALF)),  # (B, f, 14, 14)
            nn.ConvTranspose2d(f, thin, 4, stride=2, padding=1), nn.ReLU(),  # (B, f/2, 28, 28)
            nn.Conv2d(thin, 1, 3, padding=1),  # (B, 1, 28, 28) logits
            nn.Flatten(),  # (B, 784)
        )

    def _build_keras(self, cfg: ConvVAEConfig) -> None:
        """The layers of Keras's variational_autoencoder_deconv.py, shapes as it prints them."""
        f = cfg.filters
        flat = f * HALF * HALF
        self.encoder = nn.Sequential(
            nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(1, 1, 2), nn.ReLU(),  # (B, 1, 28, 28): "same" pads after, as TF
            nn.Conv2d(1, f, 2, stride=2), nn.ReLU(),  # (B, f, 14, 14): "same" needs no padding here
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),  # (B, f, 14, 14)
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),  # (B, f, 14, 14)
            nn.Flatten(), nn.Linear(flat, cfg.dense), nn.ReLU(),  # (B, dense)
        )
        self.mu = nn.Linear(cfg.dense, cfg.latent)
        self.logvar = nn.Linear(cfg.dense, cfg.latent)
        self.decoder = nn.Sequential(
            nn.Linear(cfg.latent, cfg.dense), nn.ReLU(),
            nn.Linear(cfg.dense, flat), nn.ReLU(),
            nn.Unflatten(1, (f, HALF, HALF)),  # (B, f, 14, 14)
            nn.ConvTranspose2d(f, f, 3, padding=1), nn.ReLU(),  # (B, f, 14, 14)
            nn.ConvTranspose2d(f, f, 3, padding=1), nn.ReLU(),  # (B, f, 14, 14)
            nn.ConvTranspose2d(f, f, 3, stride=2), nn.ReLU(),  # (B, f, 29, 29): "valid"
            nn.Conv2d(f, 1, 2),  # (B, 1, 28, 28) logits: "valid"
            nn.Flatten(),  # (B, 784)
        )

    def encode_dist(self, x):
        h = self.encoder(x.view(-1, 1, IMAGE_SIDE, IMAGE_SIDE))
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z):
        return self.decoder(z)
