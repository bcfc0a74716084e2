"""What can be set: each model family's settings and the training settings, and the family registry.

Kept apart from the models so that reading or checking settings never imports torch: the dashboard's
Home page, the job registry and the model store's index use them before any model is built (torch
takes 1-1.5 s to import on a 2-core machine). Each config checks itself in `__post_init__`, so a bad
value from a widget, a URL, the CLI or a JSON file is refused here. A dataclass's defaults are the
lecture's default model of that family. Beside its settings, each family's config declares as plain
data what the rest of the lab needs to know about it: a one-line `description`, the Train page's
`controls`, and `small` settings for the tests. `FAMILY_REGISTRY` names each family's config and
model class, one line per family (a new family may keep both in one file, see `Family`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import import_module
from typing import Any, ClassVar, NamedTuple

from aecore.errors import ConfigError
from aecore.validation import MAX_EPOCHS, MAX_LAYER_WIDTH, check_choice, check_float, check_int, check_widths, set_field

ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh")
CORRUPTIONS = ("masking", "gaussian", "salt_pepper")
# Weight initialisation schemes (`aecore.models.base.init_parameters`): PyTorch's default; Glorot uniform
# (Keras and TF 1); the dA tutorial's sigmoid bound 4·√(6/(n_in + n_out)); and that bound with the dA
# tutorial's misplaced parenthesis, 4·√(6/n_out + n_in), kept so a lesson can show what it does.
INIT_SCHEMES = ("torch", "glorot", "sigmoid", "sigmoid_mistyped")
REDUCTIONS = ("sum", "mean")  # a reconstruction loss summed over the pixels of an image, or averaged
OPTIMIZERS = ("adam", "sgd", "rmsprop")
MIN_SPARSITY_TARGET = 1e-4  # ρ's range is [1e-4, 1 - 1e-4]; the mean activation is clamped to [1e-6, 1 - 1e-6]


@dataclass(frozen=True)
class Control:
    """One widget of a family's settings on the Train page, as plain data (`app.controls` draws it).

    Its value is the config field `name`, a one-element tuple field given as its one number (the
    width of a one-layer encoder), or, for a config that overrides `from_controls`, a value that
    config turns into its fields. Its default is the config default's (`FamilyConfig.control_values`).
    """

    name: str  # the value's name; also its URL parameter
    kind: str  # "slider" | "select" | "select_slider" | "toggle"
    label: str
    options: tuple = ()  # select and select_slider
    lo: float | None = None  # slider bounds and step
    hi: float | None = None
    step: float | None = None
    help: str | None = None
    option_labels: Mapping[Any, str] | None = None  # shown instead of the option itself
    shown_when: tuple[str, Any] | None = None  # (another control's name, value): drawn only then


TIED = Control("tied", "toggle", "Tied weights (decoder uses Wᵀ)")


class FamilyConfig:
    """What every family's config declares beside its settings, and the mapping to its controls."""

    description: ClassVar[str] = ""  # one line, shown where a family is picked
    controls: ClassVar[tuple[Control, ...]] = ()  # the Train page's widgets, in order
    small: ClassVar[dict[str, Any]] = {}  # a small model with the same code paths, for the tests

    def check_init(self) -> None:
        """Refuse an unknown initialisation scheme (for configs with `init` and `zero_bias`)."""
        check_choice("init", self.init, INIT_SCHEMES)  # type: ignore[attr-defined]  # only such configs call it
        set_field(self, "zero_bias", bool(self.zero_bias))  # type: ignore[attr-defined]

    def control_values(self) -> dict[str, Any]:
        """The controls' values that give these settings (a control's default is its value here)."""
        out = {}
        for c in self.controls:
            value = getattr(self, c.name)
            out[c.name] = value[0] if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_controls(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """The settings the controls' `values` give (a subset of the config's fields)."""
        default = cls()
        return {k: (v,) if isinstance(getattr(default, k), tuple) else v for k, v in values.items()}


@dataclass(frozen=True)
class DenseAEConfig(FamilyConfig):
    """The settings every dense autoencoder has (ae, and dae, sparse and contractive, which extend it)."""

    hidden: tuple[int, ...] = (256, 32)  # encoder widths 784 -> ... -> code; the last one is the code size
    activation: str = "relu"  # hidden activation: relu | leaky_relu | sigmoid | tanh
    code_activation: str = "linear"  # activation of the code layer: linear or any of the above
    tied: bool = False  # decoder uses the encoder's Wᵀ (own biases only)
    recon_loss: str = "bce"  # bce | mse
    recon_reduction: str = "sum"  # over an image's pixels: sum (dA, VAE, CNTK) | mean (TF 1's mean squared error)
    leaky_slope: float = 0.2  # slope of leaky_relu below 0 (TF 1's deep autoencoder: 0.2)
    init: str = "torch"  # torch | glorot | sigmoid | sigmoid_mistyped (see INIT_SCHEMES)
    zero_bias: bool = False  # biases start at 0 (the sources) instead of PyTorch's small random ones

    def __post_init__(self):
        set_field(self, "hidden", check_widths("hidden", self.hidden))
        check_choice("activation", self.activation, ACTIVATION_NAMES)
        check_choice("code_activation", self.code_activation, ("linear", *ACTIVATION_NAMES))
        set_field(self, "tied", bool(self.tied))
        check_choice("recon_loss", self.recon_loss, ("bce", "mse"))
        check_choice("recon_reduction", self.recon_reduction, REDUCTIONS)
        check_float("leaky-ReLU slope", self.leaky_slope, 0.0, 1.0)
        self.check_init()


@dataclass(frozen=True)
class AEConfig(DenseAEConfig):
    description: ClassVar[str] = "Autoencoder (MLP, plain or deep)"
    SHAPES: ClassVar[dict[str, tuple[int, ...]]] = {  # the hidden layers before the code, by name
        "784-32 (simple)": (), "784-128-64-32 (deep)": (128, 64), "784-256-32": (256,),
        "784-256-128-64 (deep)": (256, 128)}
    controls: ClassVar[tuple[Control, ...]] = (
        Control("shape", "select", "Hidden layers", options=tuple(SHAPES)),
        Control("code", "slider", "Code size", lo=2, hi=128, step=1),
        Control("activation", "select", "Activation", options=ACTIVATION_NAMES),
        TIED,
    )
    small: ClassVar[dict[str, Any]] = {"hidden": (64, 16)}

    def control_values(self) -> dict[str, Any]:
        shape = next((name for name, widths in self.SHAPES.items() if widths == self.hidden[:-1]), "784-256-32")
        return {"shape": shape, "code": self.hidden[-1], "activation": self.activation, "tied": self.tied}

    @classmethod
    def from_controls(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"hidden": (*cls.SHAPES[values["shape"]], values["code"]), "activation": values["activation"],
                "tied": values["tied"]}


@dataclass(frozen=True)
class DAEConfig(DenseAEConfig):
    hidden: tuple[int, ...] = (500,)
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    tied: bool = True
    corruption: str = "masking"  # masking | gaussian | salt_pepper
    level: float = 0.3  # masking/salt-and-pepper probability, or Gaussian σ; 0 = plain autoencoder

    description: ClassVar[str] = "Denoising autoencoder"
    controls: ClassVar[tuple[Control, ...]] = (
        Control("hidden", "slider", "Hidden units", lo=16, hi=1000, step=16),
        Control("corruption", "select", "Corruption", options=CORRUPTIONS),
        Control("level", "slider", "Corruption level", lo=0.0, hi=0.9, step=0.05),
        TIED,
    )
    small: ClassVar[dict[str, Any]] = {"hidden": (64,), "level": 0.3}

    def __post_init__(self):
        super().__post_init__()
        check_choice("corruption", self.corruption, CORRUPTIONS)
        check_float("corruption level", self.level, 0.0, 1.0)


@dataclass(frozen=True)
class SparseConfig(DenseAEConfig):
    hidden: tuple[int, ...] = (256,)
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    sparsity: str = "kl"  # kl (target mean activation) | l1 (activity penalty)
    sparsity_target: float = 0.05  # ρ, the wanted mean activation of each code unit (kl only)
    sparsity_weight: float = 1.0  # weight of the penalty against the summed reconstruction loss

    description: ClassVar[str] = "Sparse autoencoder"
    controls: ClassVar[tuple[Control, ...]] = (
        Control("hidden", "slider", "Hidden units", lo=16, hi=1024, step=16,
                help="Above 784 the code is overcomplete."),
        Control("sparsity", "select", "Penalty", options=("kl", "l1"),
                option_labels={"kl": "KL to target ρ", "l1": "L1 on activations"}),
        Control("sparsity_target", "slider", "Target activation ρ", lo=0.01, hi=0.5, step=0.01,
                shown_when=("sparsity", "kl")),
        Control("sparsity_weight", "select_slider", "Sparsity weight", options=(0.0, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0)),
    )
    small: ClassVar[dict[str, Any]] = {"hidden": (64,)}

    def __post_init__(self):
        super().__post_init__()
        check_choice("sparsity", self.sparsity, ("kl", "l1"))
        # Below 1e-4 the target is 0 in float32 and the KL penalty is NaN: the run would "diverge".
        check_float("sparsity target", self.sparsity_target, MIN_SPARSITY_TARGET, 1 - MIN_SPARSITY_TARGET)
        check_float("sparsity weight", self.sparsity_weight, 0.0, 1000.0)
        if self.sparsity == "kl" and self.code_activation != "sigmoid":
            raise ConfigError("the KL sparsity penalty needs code_activation='sigmoid' (codes in 0..1)")


@dataclass(frozen=True)
class ContractiveConfig(DenseAEConfig):
    hidden: tuple[int, ...] = (128,)
    activation: str = "sigmoid"
    code_activation: str = "sigmoid"
    contraction_weight: float = 0.1  # λ, weight of the Jacobian penalty

    description: ClassVar[str] = "Contractive autoencoder"
    controls: ClassVar[tuple[Control, ...]] = (
        Control("hidden", "slider", "Hidden units", lo=16, hi=1000, step=16),
        Control("contraction_weight", "select_slider", "Contraction weight λ",
                options=(0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)),
    )
    small: ClassVar[dict[str, Any]] = {"hidden": (32,)}

    def __post_init__(self):
        super().__post_init__()
        check_float("contraction weight", self.contraction_weight, 0.0, 1000.0)


LATENT = Control("latent", "slider", "Latent size", lo=2, hi=32, step=1,
                 help="2 gives a latent plane you can walk on the Latent grid page.")
BETA = Control("beta", "select_slider", "β (KL weight)", options=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0))


@dataclass(frozen=True)
class VAEConfig(FamilyConfig):
    hidden: tuple[int, ...] = (400,)  # encoder widths before the latent heads; the decoder mirrors them
    latent: int = 2  # size of z; 2 gives a latent plane you can walk
    beta: float = 1.0  # weight of the KL term (β-VAE when > 1)
    init: str = "torch"  # see INIT_SCHEMES; Keras: glorot with zero biases
    zero_bias: bool = False

    description: ClassVar[str] = "Variational autoencoder (MLP)"
    controls: ClassVar[tuple[Control, ...]] = (
        Control("hidden", "slider", "Hidden units", lo=32, hi=1024, step=32), LATENT, BETA)
    small: ClassVar[dict[str, Any]] = {"hidden": (64,), "latent": 2}

    def __post_init__(self):
        set_field(self, "hidden", check_widths("hidden", self.hidden))
        set_field(self, "latent", check_int("latent size", self.latent, 1, MAX_LAYER_WIDTH))
        check_float("beta", self.beta, 0.0, 100.0)
        self.check_init()


@dataclass(frozen=True)
class ConvVAEConfig(FamilyConfig):
    filters: int = 64  # channels of the 14×14 feature maps
    dense: int = 128  # width of the dense layer between the feature maps and the latent heads
    latent: int = 2  # size of z
    beta: float = 1.0  # weight of the KL term
    layout: str = "lab"  # lab: 2 thin conv layers each side | keras: the Keras deconv example's 4 each side
    init: str = "torch"  # see INIT_SCHEMES
    zero_bias: bool = False

    description: ClassVar[str] = "Variational autoencoder (convolutional)"
    controls: ClassVar[tuple[Control, ...]] = (
        Control("filters", "select_slider", "Filters", options=(8, 16, 32, 64)), LATENT, BETA)
    small: ClassVar[dict[str, Any]] = {"filters": 8, "dense": 16}

    def __post_init__(self):
        check_int("filters", self.filters, 1, 256)
        check_int("dense size", self.dense, 1, 4096)
        check_int("latent size", self.latent, 1, 1024)
        check_float("beta", self.beta, 0.0, 100.0)
        check_choice("layout", self.layout, ("lab", "keras"))
        self.check_init()


@dataclass(frozen=True)
class StackedConfig(FamilyConfig):
    hidden: tuple[int, ...] = (500, 250)  # width of each pretrained layer; the last is the code
    levels: tuple[float, ...] = (0.1, 0.2)  # masking corruption of each layer's dA, one per layer
    pretrain_epochs: int = 5  # epochs of greedy pretraining per layer
    num_classes: int = 10  # outputs of the softmax head used for fine-tuning
    pretrain_lr: float = 0.0  # learning rate of the pretraining stages; 0: the training lr (SdA tutorial: 0.001)
    patience: int = 0  # stop fine-tuning after this many epochs without a better validation error (0: never)
    init: str = "torch"  # see INIT_SCHEMES; SdA tutorial: sigmoid with zero biases
    zero_bias: bool = False
    labels: int = 0  # labelled training digits fine-tuning and the baseline learn from (0: all); pretraining sees all

    description: ClassVar[str] = "Stacked denoising autoencoder"
    controls: ClassVar[tuple[Control, ...]] = (
        Control("layers", "slider", "Layers", lo=1, hi=3, step=1),
        Control("hidden", "slider", "Units per layer", lo=64, hi=1000, step=32),
        Control("level", "slider", "Corruption of each layer", lo=0.0, hi=0.9, step=0.05),
        Control("pretrain_epochs", "slider", "Pretraining epochs per layer", lo=0, hi=30, step=1),
    )
    small: ClassVar[dict[str, Any]] = {"hidden": (64, 32), "levels": (0.1, 0.2), "pretrain_epochs": 1}

    def __post_init__(self):
        set_field(self, "hidden", check_widths("hidden", self.hidden))
        levels = self.levels if isinstance(self.levels, (list, tuple)) else (self.levels,)
        if len(levels) != len(self.hidden):
            raise ConfigError(f"need one corruption level per layer: {len(self.hidden)} layers, {len(levels)} levels")
        set_field(self, "levels", tuple(check_float("corruption level", v, 0.0, 1.0) for v in levels))
        check_int("pretrain epochs", self.pretrain_epochs, 0, MAX_EPOCHS)
        check_int("number of classes", self.num_classes, 2, 1000)
        check_float("pretraining learning rate", self.pretrain_lr, 0.0, 100.0)
        check_int("patience", self.patience, 0, MAX_EPOCHS)
        check_int("labels", self.labels, 0, 10**8)
        self.check_init()

    def control_values(self) -> dict[str, Any]:
        return {"layers": len(self.hidden), "hidden": self.hidden[0], "level": self.levels[0],
                "pretrain_epochs": self.pretrain_epochs}

    @classmethod
    def from_controls(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        depth = values["layers"]  # each layer half as wide as the one below it
        return {"hidden": tuple(max(values["hidden"] // 2 ** i, 16) for i in range(depth)),
                "levels": (values["level"],) * depth, "pretrain_epochs": values["pretrain_epochs"]}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # epochs of the main stage (fine-tuning for `stacked`)
    batch_size: int = 128  # samples per optimisation step
    lr: float = 3e-3  # Adam's rate: reaches the textbook loop's 5-epoch test loss 2.5x sooner (bench.time_to_quality)
    optimizer: str = "adam"  # adam | sgd | rmsprop (Keras's defaults: ρ 0.9, ε 1e-7)
    momentum: float = 0.0  # SGD momentum (ignored by Adam)
    seed: int = 0  # seeds initialisation, shuffling and corruption; CPU runs are reproducible
    shuffle: bool = True  # a new order of the training digits each epoch; False: one fixed order (dA, TF 1)

    def __post_init__(self):
        check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        check_int("batch size", self.batch_size, 1, 65536)
        check_float("learning rate", self.lr, 0.0, 100.0, lo_open=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("momentum", self.momentum, 0.0, 0.999)
        check_int("seed", self.seed, 0, 2**31 - 1)
        set_field(self, "shuffle", bool(self.shuffle))


class Family(NamedTuple):
    """A family's registry line: where its settings and its model class are, each "module.Name"."""

    config: str
    model: str


# The family registry, one line per family, each part imported on first use: a new family's one file may
# hold both. The built-in settings are above, read by Home without importing torch (bench.interaction).
FAMILY_REGISTRY: dict[str, Family] = {
    "ae": Family("aecore.configs.AEConfig", "aecore.models.ae.AE"),
    "dae": Family("aecore.configs.DAEConfig", "aecore.models.dae.DAE"),
    "sparse": Family("aecore.configs.SparseConfig", "aecore.models.sparse.SparseAE"),
    "contractive": Family("aecore.configs.ContractiveConfig", "aecore.models.contractive.ContractiveAE"),
    "vae": Family("aecore.configs.VAEConfig", "aecore.models.vae.VAE"),
    "conv_vae": Family("aecore.configs.ConvVAEConfig", "aecore.models.conv_vae.ConvVAE"),
    "stacked": Family("aecore.configs.StackedConfig", "aecore.models.stacked.StackedDAE"),
}
FAMILIES = FAMILY_REGISTRY.keys()  # the names in order; a live view, so a family registered later is listed


def family_entry(family: str) -> Family:
    """The registry line of `family`; ConfigError (with the list of families) for an unknown name."""
    try:
        return FAMILY_REGISTRY[family]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model family {family!r}; choose from {', '.join(FAMILIES)}") from None


def import_named(path: str) -> Any:
    """The object a "module.Name" path names, its module imported if it was not."""
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def config_class(family: str) -> type:
    """The config class of `family`."""
    return import_named(family_entry(family).config)


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
