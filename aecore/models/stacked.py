"""Stacked denoising autoencoder (`stacked`, Vincent et al. 2010).

Greedy layer-wise pretraining: layer k is a tied-weight denoising autoencoder trained on the clean
codes of layers 1..k-1, with its own corruption level. Then a softmax head is put on top and the whole
encoder is fine-tuned on the labels. Each of these is a `Stage`, so the trainer logs every stage's
loss curve. As the `baseline`, the trainer then trains the same network (encoder + head) from random
initialisation for the same number of fine-tuning epochs, and both test accuracies are reported. With
`labels` set, both learn from that many labelled digits (the same ones) while pretraining sees every digit.
"""
from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from aecore.configs import StackedConfig
from aecore.models.base import INPUT_DIM, Autoencoder, Baseline, Stage, init_parameters, reconstruction_loss
from aecore.models.dae import corrupt


class _Network(nn.Module):
    """Encoder layers (sigmoid, as in the classic SdA) plus the softmax head."""

    def __init__(self, cfg: StackedConfig):
        super().__init__()
        widths = (INPUT_DIM, *cfg.hidden)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Linear(widths[-1], cfg.num_classes)

    def encode(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        for layer in self.layers[:depth]:
            x = torch.sigmoid(layer(x))
        return x

    def initialise(self, scheme: str, zero_bias: bool) -> None:
        """Draw the hidden layers by `scheme`; with the sources' zero biases the softmax head starts
        at 0 as well (the SdA tutorial's logistic layer)."""
        init_parameters(self.layers, scheme, zero_bias)
        if zero_bias:
            with torch.no_grad():
                self.head.weight.zero_()
                self.head.bias.zero_()

    def classify_loss(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.head(self.encode(x))
        xent = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        return {"loss": xent, "xent": xent, "accuracy": accuracy.detach(), "error": 1 - accuracy.detach()}


class StackedDAE(Autoencoder):
    family = "stacked"
    config_class = StackedConfig

    def __init__(self, cfg: StackedConfig):
        super().__init__(cfg)
        self.net = _Network(cfg)
        # Tied decoders: one visible bias per layer, the weights are the encoder's transposed.
        self.visible_biases = nn.ParameterList(nn.Parameter(torch.zeros(cast(nn.Linear, layer).in_features))
                                               for layer in self.net.layers)

    @property
    def code_dim(self) -> int:
        return self.cfg.hidden[-1]

    def encode(self, x):
        return self.net.encode(x)

    def _decode_layer(self, h: torch.Tensor, k: int) -> torch.Tensor:  # logits of layer k's input
        return F.linear(h, cast(nn.Linear, self.net.layers[k]).weight.t(), self.visible_biases[k])

    def decode_logits(self, code: torch.Tensor) -> torch.Tensor:
        h = code
        for k in reversed(range(len(self.net.layers))):
            h = self._decode_layer(h, k)
            if k > 0:
                h = torch.sigmoid(h)
        return h

    def decode(self, code):
        return torch.sigmoid(self.decode_logits(code))

    def loss(self, x):
        recon = reconstruction_loss(self.decode_logits(self.encode(x)), x, "bce", logits=True).mean()
        return {"loss": recon, "recon": recon}

    def layer_loss(self, x: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        """Denoising loss of layer k alone, on the (fixed) codes of the layers below."""
        with torch.no_grad():
            below = self.net.encode(x, depth=k)
        noisy = corrupt(below, "masking", self.cfg.levels[k]) if self.training else below
        h = torch.sigmoid(self.net.layers[k](noisy))
        recon = reconstruction_loss(self._decode_layer(h, k), below, "bce", logits=True).mean()
        return {"loss": recon, "recon": recon}

    def stages(self, epochs: int) -> list[Stage]:
        plan = []
        for k, layer in enumerate(self.net.layers):
            params = [layer.weight, layer.bias, self.visible_biases[k]]

            def pretrain_loss(x: torch.Tensor, y: torch.Tensor, k: int = k) -> dict[str, torch.Tensor]:
                return self.layer_loss(x, k)  # labels unused: the layer learns to reconstruct its input

            plan.append(Stage(f"pretrain layer {k + 1}", self.cfg.pretrain_epochs, params, pretrain_loss,
                              lr=self.cfg.pretrain_lr or None))
        plan.append(Stage("fine-tune", epochs, list(self.net.parameters()), self.net.classify_loss,
                          patience=self.cfg.patience, monitor="error", examples=self.cfg.labels))
        return plan

    def initialise(self, scheme: str, zero_bias: bool) -> None:
        self.net.initialise(scheme, zero_bias)

    def baseline(self, epochs: int) -> Baseline:
        """The same network (encoder and head) trained from random initialisation for as many epochs."""
        network = _Network(self.cfg)
        network.initialise(self.cfg.init, self.cfg.zero_bias)
        network.to(next(self.parameters()).device)
        return Baseline([Stage("random init", epochs, list(network.parameters()), network.classify_loss,
                               patience=self.cfg.patience, monitor="error", examples=self.cfg.labels)],
                        lambda x, y: {"random_init_test_accuracy": _accuracy(network, x, y)})

    def first_layer_weights(self) -> torch.Tensor:
        return cast(nn.Linear, self.net.layers[0]).weight

    def first_layer_activations(self, x: torch.Tensor) -> torch.Tensor:  # (B, 784) -> (B, H)
        return self.net.encode(x, depth=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class predictions of the fine-tuned network, shape (B,)."""
        return self.net.head(self.net.encode(x)).argmax(dim=1)

    def final_metrics(self, x_test, y_test):
        accuracy = _accuracy(self.net, x_test, y_test)
        return {"finetune_test_accuracy": accuracy, "test_error": 1 - accuracy}


@torch.no_grad()
def _accuracy(net: _Network, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    was_training = net.training
    net.eval()
    correct = sum((net.head(net.encode(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(x), batch))
    net.train(was_training)
    return correct / max(len(x), 1)
