"""Plain and deep MLP autoencoders (`ae`), the base that dae, sparse and contractive extend.

The encoder is a stack of Linear layers with `hidden` widths (the last width is the code); the
decoder mirrors it. With `tied=True` the decoder reuses the encoder weights transposed (Wᵀ) and
learns only its biases, as in the classic denoising autoencoder.
"""
from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from aecore.configs import AEConfig, DenseAEConfig
from aecore.models.base import INPUT_DIM, Autoencoder, reconstruction_loss

ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda h: F.leaky_relu(h, 0.2),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


def activate(h: torch.Tensor, name: str, leaky_slope: float) -> torch.Tensor:
    """`h` through the activation `name` ("linear" leaves it), leaky ReLU with slope `leaky_slope`."""
    if name == "linear":
        return h
    return F.leaky_relu(h, leaky_slope) if name == "leaky_relu" else ACTIVATIONS[name](h)


class AE(Autoencoder):
    family = "ae"
    config_class: type[DenseAEConfig] = AEConfig

    def __init__(self, cfg: DenseAEConfig):
        super().__init__(cfg)
        widths = (INPUT_DIM, *cfg.hidden)
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.decoder: nn.ModuleList | None
        if cfg.tied:
            # One bias per decoder layer; the weights are the encoder's, transposed, in reverse order.
            self.decoder_biases = nn.ParameterList(nn.Parameter(torch.zeros(w)) for w in reversed(widths[:-1]))
            self.decoder = None
        else:
            self.decoder = nn.ModuleList(nn.Linear(b, a) for a, b in reversed(list(zip(widths[:-1], widths[1:]))))

    @property
    def code_dim(self) -> int:
        return self.cfg.hidden[-1]

    def _act(self, h: torch.Tensor, is_code: bool) -> torch.Tensor:
        return activate(h, self.cfg.code_activation if is_code else self.cfg.activation, self.cfg.leaky_slope)

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, 784) -> (B, code)
        h = x
        for i, layer in enumerate(self.encoder):
            h = self._act(layer(h), is_code=i == len(self.encoder) - 1)
        return h

    def decode_logits(self, code: torch.Tensor) -> torch.Tensor:  # (B, code) -> (B, 784) logits
        h = code
        n = len(self.encoder)
        for i in range(n):
            if self.decoder is None:
                h = F.linear(h, cast(nn.Linear, self.encoder[n - 1 - i]).weight.t(), self.decoder_biases[i])
            else:
                h = self.decoder[i](h)
            if i < n - 1:
                h = activate(h, self.cfg.activation, self.cfg.leaky_slope)
        return h

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(code))

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Input seen by the encoder during training; the plain autoencoder sees it clean."""
        return x

    def penalty(self, x_in: torch.Tensor, code: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra loss terms (sparsity, contraction); none for the plain autoencoder."""
        return {}

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x_in = self.corrupt(x)
        code = self.encode(x_in)
        recon = reconstruction_loss(self.decode_logits(code), x, self.cfg.recon_loss, logits=True,
                                    reduction=self.cfg.recon_reduction).mean()
        parts = {"recon": recon, **self.penalty(x_in, code)}
        return {"loss": cast(torch.Tensor, sum(parts.values())), **parts}

    def first_layer_weights(self) -> torch.Tensor:
        return cast(nn.Linear, self.encoder[0]).weight  # (H, 784)

    def first_layer_activations(self, x: torch.Tensor) -> torch.Tensor:  # (B, 784) -> (B, H)
        return self._act(self.encoder[0](x), is_code=len(self.encoder) == 1)
