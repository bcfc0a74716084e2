"""`RunSpec`: everything that decides a trained model — family, model config, training config, dataset.

A spec is what the CLI parses, what the dashboard's widgets and URL build, what the job registry
deduplicates on and what the model store hashes (together with the dataset's content fingerprint),
so "the same settings" means one thing everywhere.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from aecore.configs import TrainConfig, config_class, make_config, make_train_config
from aecore.errors import ConfigError

STORE_FORMAT = 1  # bump when saved weights or metadata change meaning; old entries then miss
KEY_LENGTH = 20
KEY_PATTERN = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}$")
# Settings added after models were stored, at the values that reproduce the older behaviour: left out of
# the key there, so a stored model keeps its key.
LATER_SETTINGS: dict[str, Any] = {"recon_reduction": "sum", "leaky_slope": 0.2, "init": "torch", "zero_bias": False,
                                  "layout": "lab", "pretrain_lr": 0.0, "patience": 0, "shuffle": True,
                                  "labels": 0}


def _keyed(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k not in LATER_SETTINGS or v != LATER_SETTINGS[k]}


@dataclass(frozen=True)
class RunSpec:
    family: str = "ae"  # a name in aecore.configs.FAMILIES
    model: Any = None  # that family's config dataclass; None means its defaults
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: str = "auto"  # "mnist", "mnist-sample", "fashion-mnist", "auto" or a path

    def __post_init__(self):
        object.__setattr__(self, "model", make_config(self.family, self.model))
        if isinstance(self.train, dict):
            object.__setattr__(self, "train", make_train_config(self.train))
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError("dataset must be a name or a path")

    def to_dict(self) -> dict:
        return {"family": self.family, "model": asdict(self.model), "train": asdict(self.train),
                "dataset": self.dataset}

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        if not isinstance(d, dict):
            raise ConfigError("a run spec must be a mapping")
        return cls(family=d.get("family", "ae"), model=d.get("model"), train=make_train_config(d.get("train")),
                   dataset=d.get("dataset", "auto"))

    def with_dataset(self, name: str) -> RunSpec:
        return replace(self, dataset=name)

    def key(self, dataset_fingerprint: str) -> str:
        """The model store key: a hash of the settings, the data's content and the store format.

        The dataset enters by fingerprint, not by name, so a path and a name for the same data agree.
        """
        payload = {"format": STORE_FORMAT, "family": self.family, "model": _keyed(asdict(self.model)),
                   "train": _keyed(asdict(self.train)), "data": dataset_fingerprint}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH]

    def label(self) -> str:
        """A short human name, e.g. 'dae 500 masking 0.3', naming every model setting that differs
        from the family's defaults, so two different models never share a label ('dae 500 masking 0.3
        untied'). A classic recipe's model is named by its key settings and the recipe ('vae 256 z2
        (keras-vae-mlp)'). Training settings are not named."""
        m = self.model
        bits = [self.family]
        named = {"hidden", "latent", "corruption", "level", "beta"}
        if hasattr(m, "hidden"):
            bits.append("-".join(map(str, m.hidden)))
        if hasattr(m, "latent"):
            bits.append(f"z{m.latent}")
        if hasattr(m, "level"):
            bits.append(f"{m.corruption} {m.level:g}")
        if getattr(m, "beta", 1.0) != 1.0:
            bits.append(f"β={m.beta:g}")
        from aecore.recipes import RECIPES, is_recipe_model  # here: recipes builds its specs with this module
        as_dict = self.to_dict()
        recipe = next((r for r in RECIPES.values() if is_recipe_model(r, as_dict)), None)
        if recipe is not None:  # its name says the rest, and names no other model
            extra = [_setting_words(k, v) for k, v in (("labels", getattr(m, "labels", 0)),) if v]
            return " ".join(bits) + f" ({recipe.name})" + "".join(f" {e}" for e in extra)
        default = type(m)()
        for f in fields(m):
            value = getattr(m, f.name)
            if f.name not in named and value != getattr(default, f.name):
                bits.append(_setting_words(f.name, value))
        return " ".join(bits)


def _setting_words(name: str, value: Any) -> str:
    """A setting in a label: 'untied', 'activation relu', 'levels 0.1-0.3'."""
    if isinstance(value, bool):
        return name.replace("_", " ") if value else f"un{name}" if name == "tied" else f"no {name.replace('_', ' ')}"
    if isinstance(value, tuple):
        value = "-".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:g}"
    return f"{name.replace('_', ' ')} {value}"


def make_spec(family: str = "ae", dataset: str = "auto", **settings: Any) -> RunSpec:
    """Build a spec from flat settings, sending each to the model or the training config by name.

    >>> make_spec("dae", level=0.3, epochs=5).train.epochs
    5
    """
    model_fields = {f.name for f in fields(config_class(family))}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - model_fields - train_fields)
    if unknown:
        raise ConfigError(f"{family} has no setting {', '.join(unknown)}")
    model = {k: v for k, v in settings.items() if k in model_fields}
    train = {k: v for k, v in settings.items() if k in train_fields}
    return RunSpec(family=family, model=model, train=make_train_config(train), dataset=dataset)


def check_key(key: Any) -> str:
    """Refuse anything that is not a store key (keys become directory names)."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ConfigError(f"not a model key: {str(key)[:40]!r}")
    return key


def lecture_spec(family: str, dataset: str = "auto", **settings: Any) -> RunSpec:
    """The lecture's model of `family` on `dataset`, with `settings` on top; what each page shows by
    default. Each family with a source is a classic recipe (`aecore.recipes.LECTURE_RECIPES`; on the
    embedded sample at its lecture epochs, `SAMPLE_LECTURE_EPOCHS`); sparse and contractive take their
    defaults."""
    from aecore.recipes import SAMPLE_LECTURE_EPOCHS, lecture_recipe
    name = dataset
    if name == "auto":
        from aecore.data import default_dataset_name
        name = default_dataset_name()
    found = lecture_recipe(family, settings)
    if found is None:
        return make_spec(family, dataset, **settings)
    base = dict(found.settings)
    if name == "mnist-sample" and found.name in SAMPLE_LECTURE_EPOCHS:
        base["epochs"] = SAMPLE_LECTURE_EPOCHS[found.name]
    return make_spec(family, dataset, **{**base, **settings})


def lecture_specs(dataset: str = "auto") -> list[RunSpec]:
    """The models a lecture needs ready: the CNTK simple ae, the dA recipe at corruption 0 and 0.3, the
    Keras 2-D vae recipe and the lecture-size Keras deconv VAE."""
    return [
        lecture_spec("ae", dataset),
        lecture_spec("dae", dataset, level=0.0),
        lecture_spec("dae", dataset, level=0.3),
        lecture_spec("vae", dataset),
        lecture_spec("conv_vae", dataset),
    ]


def has_2d_code(spec: RunSpec) -> bool:
    """Whether `spec`'s model has a 2-D code (a plane the Latent grid can walk)."""
    model = spec.model
    if hasattr(model, "latent"):
        return model.latent == 2
    return bool(getattr(model, "hidden", None)) and model.hidden[-1] == 2
