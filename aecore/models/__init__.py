"""Every autoencoder family, registered by name.

`MODELS` maps a family name to its class; each class has `config_class`, its settings from
`aecore.configs` (a frozen dataclass whose defaults are the lecture's default model; importable
without torch). `build_model(family, cfg_or_dict)` is the one way to make a model from settings
(the CLI, the store and the dashboard all use it).
"""
from __future__ import annotations

from typing import Any

from aecore.configs import (
    DESCRIPTIONS,
    AEConfig,
    ContractiveConfig,
    ConvVAEConfig,
    DAEConfig,
    SparseConfig,
    StackedConfig,
    VAEConfig,
    config_class,
    make_config,
)
from aecore.models.ae import AE
from aecore.models.base import IMAGE_SIDE, INPUT_DIM, Autoencoder, Stage
from aecore.models.contractive import ContractiveAE
from aecore.models.conv_vae import ConvVAE
from aecore.models.dae import DAE, corrupt
from aecore.models.sparse import SparseAE
from aecore.models.stacked import StackedDAE
from aecore.models.vae import VAE

MODELS: dict[str, type[Autoencoder]] = {
    "ae": AE,
    "dae": DAE,
    "sparse": SparseAE,
    "contractive": ContractiveAE,
    "vae": VAE,
    "conv_vae": ConvVAE,
    "stacked": StackedDAE,
}


def model_class(family: str) -> type[Autoencoder]:
    config_class(family)  # an unknown family is refused there, with the list of families
    return MODELS[family]


def build_model(family: str, cfg: Any = None) -> Autoencoder:
    """A freshly initialised model of `family` from a config object or a dict of settings."""
    return model_class(family)(make_config(family, cfg))


__all__ = ["MODELS", "DESCRIPTIONS", "Autoencoder", "Stage", "IMAGE_SIDE", "INPUT_DIM", "build_model",
           "make_config", "model_class", "corrupt", "AEConfig", "DAEConfig", "SparseConfig",
           "ContractiveConfig", "VAEConfig", "ConvVAEConfig", "StackedConfig"]
