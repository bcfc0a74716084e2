"""Every autoencoder family, registered by name.

`MODELS` maps a family name to its class; each class has `config_class`, a frozen dataclass whose
defaults are the lecture's default model. `build_model(family, cfg_or_dict)` is the one way to make
a model from settings (the CLI, the store and the dashboard all use it).
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from aecore.errors import ConfigError
from aecore.models.ae import AE, AEConfig
from aecore.models.base import IMAGE_SIDE, INPUT_DIM, Autoencoder, Stage
from aecore.models.contractive import ContractiveAE, ContractiveConfig
from aecore.models.conv_vae import ConvVAE, ConvVAEConfig
from aecore.models.dae import DAE, DAEConfig, corrupt
from aecore.models.sparse import SparseAE, SparseConfig
from aecore.models.stacked import StackedConfig, StackedDAE
from aecore.models.vae import VAE, VAEConfig

MODELS: dict[str, type[Autoencoder]] = {
    "ae": AE,
    "dae": DAE,
    "sparse": SparseAE,
    "contractive": ContractiveAE,
    "vae": VAE,
    "conv_vae": ConvVAE,
    "stacked": StackedDAE,
}

DESCRIPTIONS = {
    "ae": "Autoencoder (MLP, plain or deep)",
    "dae": "Denoising autoencoder",
    "sparse": "Sparse autoencoder",
    "contractive": "Contractive autoencoder",
    "vae": "Variational autoencoder (MLP)",
    "conv_vae": "Variational autoencoder (convolutional)",
    "stacked": "Stacked denoising autoencoder",
}


def model_class(family: str) -> type[Autoencoder]:
    try:
        return MODELS[family]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model family {family!r}; choose from {', '.join(MODELS)}") from None


def make_config(family: str, values: dict[str, Any] | Any | None = None):
    """Build (and so validate) the config of `family` from a dict of its fields; unknown keys are an error."""
    cls = model_class(family).config_class
    if isinstance(values, cls):
        return values
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{family} has no setting {', '.join(unknown)}; settings are {', '.join(sorted(known))}")
    try:
        return cls(**values)
    except TypeError as e:  # e.g. a list where a number belongs
        raise ConfigError(f"bad {family} settings: {e}") from None


def build_model(family: str, cfg: Any = None) -> Autoencoder:
    """A freshly initialised model of `family` from a config object or a dict of settings."""
    return model_class(family)(make_config(family, cfg))


__all__ = ["MODELS", "DESCRIPTIONS", "Autoencoder", "Stage", "IMAGE_SIDE", "INPUT_DIM", "build_model",
           "make_config", "model_class", "corrupt", "AEConfig", "DAEConfig", "SparseConfig",
           "ContractiveConfig", "VAEConfig", "ConvVAEConfig", "StackedConfig"]
