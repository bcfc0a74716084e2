"""The small interface every autoencoder family implements.

A model takes flattened images `x` of shape (B, 784) with values in [0, 1] and offers
`encode(x) -> code`, `decode(code) -> x_hat` (probabilities in [0, 1]) and `loss(x) -> dict`, whose
`"loss"` entry is the scalar to minimise (mean over the batch) and whose other entries are its named
parts, so the trainer and the dashboard can log any family the same way.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIDE = 28
INPUT_DIM = IMAGE_SIDE * IMAGE_SIDE  # 784: every dataset here is MNIST-shaped


@dataclass
class Stage:
    """One phase of training: which parameters move, for how many epochs, under which loss.

    Most families train in one stage; `stacked` has one per pretrained layer, then fine-tuning.
    """

    name: str
    epochs: int
    params: list[nn.Parameter]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]  # (x, y) -> loss dict
    lr: float | None = None  # this stage's learning rate; None: the training config's
    patience: int = 0  # stop after this many epochs without a lower validation `monitor` (0: never)
    monitor: str = "loss"  # the validation loss part early stopping watches (lower is better)
    examples: int = 0  # learn from this many training digits only, a seeded class-stratified sample (0: all)


@dataclass
class Baseline:
    """Another network a family trains after the model, to compare with it (`stacked`: the same
    network from random initialisation). It is not part of the model and is never saved."""

    stages: list[Stage]
    metrics: Callable[[torch.Tensor, torch.Tensor], dict[str, float]]  # (x_test, y_test) -> figures


class Autoencoder(nn.Module):
    """Base class: subclasses set `family`, build layers from `cfg`, and implement the three methods."""

    family: ClassVar[str] = ""
    is_variational: ClassVar[bool] = False
    loss_parts: ClassVar[tuple[str, ...]] = ("recon",)  # the named parts `loss` reports besides "loss"

    def __init__(self, cfg: Any):
        super().__init__()
        self.cfg = cfg

    @property
    def code_dim(self) -> int:
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, 784) -> (B, D)
        raise NotImplementedError

    def decode(self, code: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, 784), values in [0, 1]
        raise NotImplementedError

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction (no corruption, VAE uses the mean code)."""
        return self.decode(self.encode(x))

    def first_layer_weights(self) -> torch.Tensor:
        """Weights of the first layer that sees pixels, shape (H, 784), for filter pictures.

        Raises NotImplementedError for families whose first layer is not dense (conv_vae).
        """
        raise NotImplementedError(f"{self.family} has no dense first layer to show as filters")

    def first_layer_activations(self, x: torch.Tensor) -> torch.Tensor:  # (B, 784) -> (B, H)
        """The outputs of the units whose weights `first_layer_weights` gives, after their activation.

        Raises NotImplementedError where `first_layer_weights` does.
        """
        raise NotImplementedError(f"{self.family} has no dense first layer to show as filters")

    def stages(self, epochs: int) -> list[Stage]:
        """The training plan for `epochs` epochs; one unsupervised stage unless a family says otherwise."""
        return [Stage("train", epochs, list(self.parameters()), lambda x, y: self.loss(x))]

    def baseline(self, epochs: int) -> Baseline | None:
        """A freshly initialised network to train after the model for comparison; none by default."""
        return None

    def final_metrics(self, x_test: torch.Tensor, y_test: torch.Tensor) -> dict[str, float]:
        """Family-specific figures computed once after training (e.g. test accuracy for `stacked`)."""
        return {}

    def initialise(self, scheme: str, zero_bias: bool) -> None:
        """Draw the weights by `scheme` (see `init_parameters`); a family may start some layers otherwise."""
        init_parameters(self, scheme, zero_bias)

    def config_dict(self) -> dict:
        return {"family": self.family, **asdict(self.cfg)}


def init_bound(scheme: str, fan_in: int, fan_out: int) -> float | None:
    """The half-width b of the Uniform(-b, b) that `scheme` draws weights from; None for PyTorch's default."""
    if scheme == "torch":
        return None
    if scheme == "glorot":
        return math.sqrt(6 / (fan_in + fan_out))
    if scheme == "sigmoid":
        return 4 * math.sqrt(6 / (fan_in + fan_out))
    if scheme == "sigmoid_mistyped":  # the dA tutorial's 4*sqrt(6./n_hidden + n_visible): 112 for 784 -> 500
        return 4 * math.sqrt(6 / fan_out + fan_in)
    raise ValueError(f"unknown initialisation {scheme!r}")


@torch.no_grad()
def init_parameters(module: nn.Module, scheme: str, zero_bias: bool) -> None:
    """Re-draw the weights of every dense and convolutional layer of `module` by `scheme` and, with
    `zero_bias`, set their biases to 0. Fans are counted as Keras counts them (receptive field × channels)."""
    for layer in module.modules():
        if not isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            continue
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = init_bound(scheme, fan_in, fan_out)
        if bound is not None:
            layer.weight.uniform_(-bound, bound)
        if zero_bias and layer.bias is not None:
            layer.bias.zero_()


def reconstruction_loss(logits_or_probs: torch.Tensor, x: torch.Tensor, kind: str, *, logits: bool,
                        reduction: str = "sum") -> torch.Tensor:
    """Per-sample reconstruction loss over pixels, shape (B,): summed, or averaged with reduction="mean".

    Summing over pixels (not averaging) is the classic dA / VAE convention and keeps the KL term of a
    VAE on the same scale as the reconstruction term; TF 1's `mean_squared_error` averages.
    """
    if kind == "bce":
        if logits:
            per_pixel = F.binary_cross_entropy_with_logits(logits_or_probs, x, reduction="none")
        else:
            per_pixel = F.binary_cross_entropy(logits_or_probs.clamp(1e-7, 1 - 1e-7), x, reduction="none")
    elif kind == "mse":
        probs = torch.sigmoid(logits_or_probs) if logits else logits_or_probs
        per_pixel = (probs - x) ** 2
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}")
    return per_pixel.mean(dim=1) if reduction == "mean" else per_pixel.sum(dim=1)
