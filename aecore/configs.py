"""What can be set: each model family's settings and the training settings, as frozen dataclasses.

Kept apart from the models so that reading or checking settings never imports torch: the dashboard's
Home page, the job registry and the model store's index use them before any model is built (torch
takes 1-1.5 s to import on a 2-core machine). Each config checks itself in `__post_init__`, so a bad
value from a widget, a URL, the CLI or a JSON file is refused here. A dataclass's defaults are the
lecture's default model of that family.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from aecore.errors import ConfigError
from aecore.validation import MAX_EPOCHS, MAX_LAYER_WIDTH, check_choice, check_float, check_int, check_widths, set_field

ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh")
CORRUPTIONS = ("masking", "gaussian", "salt_pepper")
MIN_SPARSITY_TARGET = 1e-4  # ρ's range is [1e-4, 1 - 1e-4]; the mean activation is clamped to [1e-6, 1 - 1e-6]


@dataclass(frozen=True)
class AEConfig:
    hidden: tuple[int, ...] = (256, 32)  # encoder widths 784 -> ... -> code; the last one is the code size
    activation: str = "relu"  # hidden activation: relu | leaky_relu | sigmoid | tanh
    code_activation: str = "linear"  # activation of the code layer: linear or any of the above
    tied: bool = False  # decoder uses the encoder's Wᵀ (own biases only)
    recon_loss: str = "bce"  # bce (summed over pixels) | mse (summed over pixels)

    def __post_init__(self):
        set_field(self, "hidden", check_widths("hidden", self.hidden))
        check_choice("activation", self.activation, ACTIVATION_NAMES)
        check_choice("code_activation", self.code_activation, ("linear", *ACTIVATION_NAMES))
        set_field(self, "tied", bool(self.tied))
        check_choice("recon_loss", self.recon_loss, ("bce", "mse"))


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
        # Below 1e-4 the target is 0 in float32 and the KL penalty is NaN: the run would "diverge".
        check_float("sparsity target", self.sparsity_target, MIN_SPARSITY_TARGET, 1 - MIN_SPARSITY_TARGET)
        check_float("sparsity weight", self.sparsity_weight, 0.0, 1000.0)
        if self.sparsity == "kl" and self.code_activation != "sigmoid":
            raise ConfigError("the KL sparsity penalty needs code_activation='sigmoid' (codes in 0..1)")


@dataclass(frozen=True)
class ContractiveConfig(AEConfig):
    hidden: tuple[int, ...] = (128,)
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    contraction_weight: float = 0.1  # λ, weight of the Jacobian penalty

    def __post_init__(self):
        super().__post_init__()
        check_float("contraction weight", self.contraction_weight, 0.0, 1000.0)


@dataclass(frozen=True)
class VAEConfig:
    hidden: tuple[int, ...] = (400,)  # encoder widths before the latent heads; the decoder mirrors them
    latent: int = 2  # size of z; 2 gives a latent plane you can walk
    beta: float = 1.0  # weight of the KL term (β-VAE when > 1)

    def __post_init__(self):
        set_field(self, "hidden", check_widths("hidden", self.hidden))
        set_field(self, "latent", check_int("latent size", self.latent, 1, MAX_LAYER_WIDTH))
        check_float("beta", self.beta, 0.0, 100.0)


@dataclass(frozen=True)
class ConvVAEConfig:
    filters: int = 64  # channels of the 14×14 feature maps
    dense: int = 128  # width of the dense layer between the feature maps and the latent heads
    latent: int = 2  # size of z
    beta: float = 1.0  # weight of the KL term

    def __post_init__(self):
        check_int("filters", self.filters, 1, 256)
        check_int("dense size", self.dense, 1, 4096)
        check_int("latent size", self.latent, 1, 1024)
        check_float("beta", self.beta, 0.0, 100.0)


@dataclass(frozen=True)
class StackedConfig:
    hidden: tuple[int, ...] = (500, 250)  # width of each pretrained layer; the last is the code
    levels: tuple[float, ...] = (0.1, 0.2)  # masking corruption of each layer's dA, one per layer
    pretrain_epochs: int = 5  # epochs of greedy pretraining per layer
    num_classes: int = 10  # outputs of the softmax head used for fine-tuning

    def __post_init__(self):
        set_field(self, "hidden", check_widths("hidden", self.hidden))
        levels = self.levels if isinstance(self.levels, (list, tuple)) else (self.levels,)
        if len(levels) != len(self.hidden):
            raise ConfigError(f"need one corruption level per layer: {len(self.hidden)} layers, {len(levels)} levels")
        set_field(self, "levels", tuple(check_float("corruption level", v, 0.0, 1.0) for v in levels))
        check_int("pretrain epochs", self.pretrain_epochs, 0, MAX_EPOCHS)
        check_int("number of classes", self.num_classes, 2, 1000)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # epochs of the main stage (fine-tuning for `stacked`)
    batch_size: int = 128  # samples per optimisation step
    lr: float = 3e-3  # Adam's rate: reaches the textbook loop's 5-epoch test loss 2.5x sooner (bench.time_to_quality)
    optimizer: str = "adam"  # adam | sgd
    momentum: float = 0.0  # SGD momentum (ignored by Adam)
    seed: int = 0  # seeds initialisation, shuffling and corruption; CPU runs are reproducible

    def __post_init__(self):
        check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        check_int("batch size", self.batch_size, 1, 65536)
        check_float("learning rate", self.lr, 0.0, 100.0, lo_open=True)
        check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        check_float("momentum", self.momentum, 0.0, 0.999)
        check_int("seed", self.seed, 0, 2**31 - 1)


DESCRIPTIONS = {
    "ae": "Autoencoder (MLP, plain or deep)",
    "dae": "Denoising autoencoder",
    "sparse": "Sparse autoencoder",
    "contractive": "Contractive autoencoder",
    "vae": "Variational autoencoder (MLP)",
    "conv_vae": "Variational autoencoder (convolutional)",
    "stacked": "Stacked denoising autoencoder",
}

# family name -> its config class; `aecore.models.MODELS` maps the same names to the model classes
CONFIGS: dict[str, type] = {
    "ae": AEConfig,
    "dae": DAEConfig,
    "sparse": SparseConfig,
    "contractive": ContractiveConfig,
    "vae": VAEConfig,
    "conv_vae": ConvVAEConfig,
    "stacked": StackedConfig,
}
FAMILIES = tuple(CONFIGS)


def config_class(family: str) -> type:
    try:
        return CONFIGS[family]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model family {family!r}; choose from {', '.join(FAMILIES)}") from None


def make_config(family: str, values: dict[str, Any] | Any | None = None):
    """Build (and so validate) the config of `family` from a dict of its fields; unknown keys are an error."""
    return _build(config_class(family), values, family)


def make_train_config(values: dict[str, Any] | TrainConfig | None = None) -> TrainConfig:
    """Build (and so validate) the training config from a dict of its fields; unknown keys are an error."""
    return _build(TrainConfig, values, "training")


def _build(cls: type, values: dict[str, Any] | Any | None, what: str):
    if isinstance(values, cls):
        return values
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{what} has no setting {', '.join(unknown)}; settings are {', '.join(sorted(known))}")
    try:
        return cls(**values)
    except TypeError as e:  # e.g. a list where a number belongs
        raise ConfigError(f"bad {what} settings: {e}") from None
