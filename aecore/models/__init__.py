"""Every autoencoder family, registered by name in `aecore.configs.FAMILY_REGISTRY`.

Each built-in family is one file here with its model class (a subclass of `Autoencoder` naming its
`config_class`, a frozen dataclass from `aecore.configs` whose defaults are the lecture's default
model); a new family's file may hold its config too. `model_class(family)` imports a family's file on
first use; `build_model(family, cfg_or_dict)` is the one way to make a model from settings (the CLI,
the store and the dashboard all use it).
"""
from __future__ import annotations

from typing import Any

from aecore.configs import family_entry, import_named, make_config
from aecore.models.base import IMAGE_SIDE, INPUT_DIM, Autoencoder, Baseline, Stage, init_parameters
from aecore.models.dae import corrupt


def model_class(family: str) -> type[Autoencoder]:
    """The model class of `family`; ConfigError (with the list of families) for an unknown name."""
    return import_named(family_entry(family).model)


def build_model(family: str, cfg: Any = None) -> Autoencoder:
    """A freshly initialised model of `family` from a config object or a dict of settings, its
    weights drawn by the config's `init` scheme (see `init_parameters`)."""
    cfg = make_config(family, cfg)
    model = model_class(family)(cfg)
    if hasattr(cfg, "init"):
        model.initialise(cfg.init, cfg.zero_bias)
    return model


__all__ = ["Autoencoder", "Baseline", "Stage", "IMAGE_SIDE", "INPUT_DIM", "build_model", "make_config", "model_class",
           "corrupt", "init_parameters"]
