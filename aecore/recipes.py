"""The classic recipes: each source model of Latent Lab as a named run spec, with its source and the
numbers the source published.

A `Recipe` holds the flat settings that reproduce its source (`aecore.spec.make_spec` takes them),
the source's training-set size, and a cap on epochs. On a smaller dataset (the embedded 3,600-digit
sample) `Recipe.budget` keeps the source's number of optimisation steps by scaling its epochs up, up
to the cap, unless the user sets epochs; the returned `Budget` says which it used. `RECIPES` maps each
name to its recipe; `recipe(name)` refuses an unknown name in one sentence. Never imports torch.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from aecore.errors import ConfigError
from aecore.spec import RunSpec, make_spec


@dataclass(frozen=True)
class Source:
    """Where a recipe comes from: the seed it grew from, and a citation without a URL."""

    seed: str  # "000" .. "004", as in SEEDS.md
    title: str  # e.g. "Denoising autoencoder (deeplearning.net dA tutorial, Theano)"
    citation: str


@dataclass(frozen=True)
class Budget:
    """The epochs a recipe runs on some data, and why."""

    kind: str  # "source" (its own epochs) | "steps" (the source's steps kept) | "capped" | "user" | "lecture"
    epochs: int  # of the main stage (fine-tuning for stacked)
    pretrain_epochs: int | None  # per layer, stacked only
    steps: int  # optimisation steps of the main stage (per layer for pretraining)
    source_steps: int  # the source's, on its own data
    stops_early: bool = False  # the source's epochs are a maximum that early stopping cuts short

    def describe(self) -> str:
        """One line a page or the CLI shows: which budget was used."""
        at_most, cut = ("at most ", ", which early stopping cuts short") if self.stops_early else ("", "")
        what = {"source": "the source's epochs", "steps": "the source's number of optimisation steps",
                "capped": f"capped below the source's {at_most}{self.source_steps:,} steps{cut}",
                "user": "epochs set by the user",
                "lecture": f"{self.steps / self.source_steps:.0%} of the source's {self.source_steps:,} steps",
                }[self.kind]
        return f"{self.epochs} epochs, {self.steps:,} steps ({what})"


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str  # the recipe in one sentence
    source: Source
    family: str
    settings: dict[str, Any]  # flat model and training settings, as `make_spec` takes them
    source_train_size: int | None  # digits the source trains on; None: a recipe sized for the sample itself
    published: dict[str, Any] = field(default_factory=dict)  # the source's numbers, by name
    note: str = ""  # where this recipe departs from the source, and why
    max_epochs: int = 200  # cap on the scaled epochs, so a run stays within minutes on 2 CPU cores

    def budget(self, n_train: int, epochs: int | None = None) -> Budget:
        """The epochs to run on `n_train` training digits: the source's steps kept (capped) unless
        `epochs` is given."""
        batch = self.settings["batch_size"]
        source_epochs = self.settings["epochs"]
        steps_per_epoch = math.ceil(n_train / batch)
        source_n = self.source_train_size or n_train
        source_steps = source_epochs * math.ceil(source_n / batch)
        pretrain = self.settings.get("pretrain_epochs")
        if epochs is not None:
            kind, scale = "user", epochs / source_epochs
        elif source_n <= n_train:
            kind, scale = "source", 1.0
        else:
            kind, scale = "steps", source_n / n_train
        main = epochs if epochs is not None else math.ceil(source_epochs * scale - 1e-9)
        pre = None if pretrain is None else (pretrain if epochs is not None else math.ceil(pretrain * scale - 1e-9))
        if epochs is None and (main > self.max_epochs or (pre is not None and pre > self.max_epochs)):
            kind = "capped"
            main, pre = min(main, self.max_epochs), None if pre is None else min(pre, self.max_epochs)
        return Budget(kind=kind, epochs=main, pretrain_epochs=pre, steps=main * steps_per_epoch,
                      source_steps=source_steps, stops_early="patience" in self.settings)

    def spec(self, dataset: str = "auto", n_train: int | None = None, epochs: int | None = None,
             **overrides: Any) -> tuple[RunSpec, Budget | None]:
        """The run spec on `dataset` with `overrides` on top. With `n_train` (the data's training
        digits) the epochs follow `budget`; without, the source's own epochs (or `epochs`)."""
        settings = {**self.settings, **overrides}
        budget = None
        if n_train is not None:
            budget = self.budget(n_train, epochs)
            settings["epochs"] = budget.epochs
            if budget.pretrain_epochs is not None and "pretrain_epochs" not in overrides:
                settings["pretrain_epochs"] = budget.pretrain_epochs
        elif epochs is not None:
            settings["epochs"] = epochs
        return make_spec(self.family, dataset, **settings), budget

    def to_dict(self) -> dict:
        return asdict(self)


_DA = Source("000", "Denoising autoencoder (deeplearning.net dA tutorial, Theano)",
             "Vincent et al., 'Extracting and composing robust features with denoising autoencoders' "
             "(ICML 2008), as taught in the deeplearning.net tutorial 'Denoising Autoencoders (dA)'")
_KERAS = Source("001", "Variational autoencoder (Keras examples, 2017)",
                "Kingma & Welling, 'Auto-Encoding Variational Bayes' (2014), as in the Keras examples "
                "variational_autoencoder.py and variational_autoencoder_deconv.py")
_TF = Source("002", "Deep MLP autoencoder (TensorFlow 1)", "A TensorFlow 1 deep autoencoder walk-through on MNIST")
_CNTK = Source("003", "Simple and deep autoencoders (CNTK 105 tutorial)",
               "Microsoft CNTK tutorial 105, 'Basic autoencoder (AE) with MNIST data'")
_SDA = Source("004", "Stacked denoising autoencoder (deeplearning.net SdA tutorial)",
              "Vincent et al., 'Stacked Denoising Autoencoders' (JMLR 2010), as taught in the deeplearning.net "
              "tutorial 'Stacked Denoising Autoencoders (SdA)'")

_DA_SETTINGS = {"hidden": (500,), "activation": "sigmoid", "code_activation": "sigmoid", "tied": True,
                "corruption": "masking", "level": 0.0, "recon_loss": "bce", "recon_reduction": "sum",
                "init": "sigmoid", "zero_bias": True, "optimizer": "sgd", "lr": 0.1, "batch_size": 20,
                "epochs": 15, "shuffle": False}
_DA_COSTS = [63.236, 55.798, 54.787, 54.273, 53.923, 53.654, 53.436, 53.253, 53.096, 52.959, 52.838, 52.730,
             52.633, 52.544, 52.463]
_KERAS_VAE = {"init": "glorot", "zero_bias": True, "latent": 2, "beta": 1.0, "optimizer": "rmsprop", "lr": 0.001,
              "batch_size": 100}
_CNTK_AE = {"activation": "relu", "code_activation": "relu", "recon_loss": "bce", "recon_reduction": "sum",
            "init": "glorot", "zero_bias": True, "optimizer": "adam", "lr": 64 * 3e-5, "batch_size": 64, "epochs": 5}
_CNTK_NOTE = ("CNTK's fsadagrad (lr 3e-5 per sample, momentum time constant 700 samples) has no torch "
              "counterpart: Adam is used, its rate the per-sample rate times the minibatch of 64 (1.92e-3).")
_CNTK_STATS = {"original_max": 255.00, "original_median": 0.00, "original_mean": 24.07, "decoded_max": 249.56,
               "decoded_median": 0.58, "decoded_mean": 27.02}

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe("theano-da", "784-500-784 tied sigmoid autoencoder, the tutorial's sigmoid init, plain SGD lr 0.1, "
           "batch 20 in one fixed order, cross-entropy summed over pixels, no corruption.", _DA, "dae",
           _DA_SETTINGS, 50_000, {"cost_per_epoch": _DA_COSTS}, max_epochs=210),
    Recipe("theano-da-0.3", "The dA tutorial's recipe with 30% of the pixels masked to 0 (a new mask each "
           "batch); the loss is against the clean digit.", _DA, "dae", {**_DA_SETTINGS, "level": 0.3}, 50_000,
           {"filters": "localised blob and stroke detectors (at corruption 0 they look like noise)"},
           max_epochs=210),
    Recipe("theano-da-mistyped", "The dA tutorial's recipe with its initialisation bound mistyped as "
           "4*sqrt(6/n_hidden + n_visible) (about 112 instead of 0.27).", _DA, "dae",
           {**_DA_SETTINGS, "init": "sigmoid_mistyped"}, 50_000,
           {"cost_epoch_0": 2_455_178.8, "cost_epoch_1": 8_450.7, "cost_epoch_307": 144.6}, max_epochs=210),
    Recipe("keras-vae-mlp", "784-256-2 VAE (ReLU, Glorot init), RMSprop lr 0.001, batch 100; loss: cross-entropy "
           "summed over pixels plus KL to N(0, I).", _KERAS, "vae",
           {**_KERAS_VAE, "hidden": (256,), "epochs": 50}, 60_000,
           {"figures": "test codes coloured by class; 15x15 grid of decodes at normal quantiles"}, max_epochs=500,
           note="Capped at 500 epochs on the sample (18,000 steps, 60% of the source's 30,000): the codes' spread "
                "shrinks towards N(0, I) slowly, and only from about 480 epochs is each test dimension's standard "
                "deviation within 0.6-1.4 (bench/README.md, the Keras MLP VAE's codes)."),
    Recipe("keras-vae-deconv", "The Keras deconvolutional VAE layer by layer (3,410,058 parameters), RMSprop, "
           "batch 100.", _KERAS, "conv_vae",
           {**_KERAS_VAE, "layout": "keras", "filters": 64, "dense": 128, "epochs": 5, "seed": 1}, 60_000,
           {"parameters": 3_410_058}, max_epochs=10,
           note="Seed 1: the source's first layer is one 2x2 ReLU filter, and seed 0 draws its four weights all "
                "negative, so it outputs 0 for every digit and the VAE never leaves its prior (a 1-in-16 chance "
                "for any run of the source). Capped at 10 epochs on the sample: about 30 s an epoch on 2 CPU cores."),
    Recipe("keras-vae-deconv-lecture", "The Keras deconvolutional VAE's layers at 16 filters instead of 64 "
           "(818,730 parameters), RMSprop lr 0.001, batch 100, 10 epochs.", _KERAS, "conv_vae",
           {**_KERAS_VAE, "layout": "keras", "filters": 16, "dense": 128, "epochs": 10}, None,
           {"figures": "test codes coloured by class; 15x15 grid of decodes at normal quantiles"},
           note="Sized for a lecture on the sample: 16 feature maps where the source has 64 (a quarter of its "
                "parameters), 10 epochs of the 3,600 digits (360 steps, the source's 5 epochs are 3,000). "
                "Both code dimensions stay in use, seeds 0-2: test KL 3.7-5.2, linear probe 40-44%, 10-NN "
                "37-45% (bench/README.md, lecture models on the sample)."),
    Recipe("tf-deep-ae", "784-256-128-64-128-256-784, leaky ReLU 0.2 on every hidden layer and the code, "
           "Glorot init, Adam lr 0.001, batch 128 in one fixed order; mean squared error averaged over pixels.",
           _TF, "ae",
           {"hidden": (256, 128, 64), "activation": "leaky_relu", "code_activation": "leaky_relu",
            "leaky_slope": 0.2, "recon_loss": "mse", "recon_reduction": "mean", "init": "glorot",
            "zero_bias": True, "optimizer": "adam", "lr": 0.001, "batch_size": 128, "epochs": 10,
            "shuffle": False}, 55_000, {"loss": "mean squared error per pixel, printed per epoch"},
           max_epochs=160),
    Recipe("cntk-simple-ae", "784-32-784 (ReLU code, sigmoid output), Glorot init, cross-entropy summed over "
           "pixels, minibatch 64, 5 sweeps.", _CNTK, "ae", {**_CNTK_AE, "hidden": (32,)}, 60_000,
           {"train_error": 0.1133, "test_error": 0.0312, "loss_late": 113, "image_stats": _CNTK_STATS},
           note=_CNTK_NOTE, max_epochs=90),
    Recipe("cntk-deep-ae", "784-128-64-32-64-128-784, ReLU everywhere but the sigmoid output, Glorot init, "
           "cross-entropy summed over pixels, minibatch 64, 5 sweeps.", _CNTK, "ae",
           {**_CNTK_AE, "hidden": (128, 64, 32)}, 60_000,
           {"train_error": 0.1090, "test_error": 0.0337, "loss_late": 100}, note=_CNTK_NOTE, max_epochs=90),
    Recipe("theano-sda", "784-1000-1000-1000 sigmoid, each layer a dA (corruption 0.1, 0.2, 0.3; 15 epochs at "
           "lr 0.001), then softmax fine-tuning at lr 0.1 with early stopping on validation error; batch 1.",
           _SDA, "stacked",
           {"hidden": (1000, 1000, 1000), "levels": (0.1, 0.2, 0.3), "pretrain_epochs": 15, "pretrain_lr": 0.001,
            "patience": 10, "init": "sigmoid", "zero_bias": True, "optimizer": "sgd", "lr": 0.1, "batch_size": 1,
            "epochs": 1000, "shuffle": False}, 50_000,
           {"test_error": 0.013, "pretraining_minutes": 585, "finetuning_minutes": 444}, max_epochs=5,
           note="Capped at 5 epochs per stage on the sample: at batch 1 an epoch is 3,600 steps of a 3-layer "
                "1000-wide network (the source ran up to 1000 fine-tuning epochs on one thread for hours); "
                "patience 10 epochs stands for the tutorial's patience of 10 epochs' iterations."),
    Recipe("theano-sda-lecture", "The SdA recipe sized for a lecture: 784-500-500, corruption 0.1 and 0.2, "
           "5 pretraining epochs per layer at lr 0.02, fine-tuning at lr 1.0, batch 20, early stopping.",
           _SDA, "stacked",
           {"hidden": (500, 500), "levels": (0.1, 0.2), "pretrain_epochs": 5, "pretrain_lr": 0.02,
            "patience": 5, "init": "sigmoid", "zero_bias": True, "optimizer": "sgd", "lr": 1.0, "batch_size": 20,
            "epochs": 15, "shuffle": False}, None, {"test_error": 0.013},
           note="Batch 20 instead of 1: the pretraining rate is the source's 0.001 times 20, the fine-tuning rate "
                "the source's 0.1 times 10 (at 0.1 the validation error was still 6.0% after 26 epochs, at 1.0 it "
                "reached 5.0% in 12); the published 1.3% is the full recipe's on 50,000 digits."),
]}


# The lecture's models, each a classic recipe, and their epochs on the embedded sample where that differs from
# the recipe's, a share of the source's steps a page trains in a few minutes: the dA pair at 60 epochs (10,800
# steps, 29%) shows the source's noise-like filters at 0 against localised detectors at 0.3; the Keras VAE at 500
# epochs (18,000 steps, 60%) is the first budget whose test codes spread like N(0, I); the CNTK simple autoencoder
# at 30 epochs (1,710 steps, 36%) rebuilds test digits within its source's error (bench/README "Classic recipes").
# The recipes sized for the sample train their own epochs. Sparse and contractive have no source: their defaults.
LECTURE_RECIPES: dict[tuple[str, float | None], str] = {
    ("ae", None): "cntk-simple-ae", ("dae", 0.0): "theano-da", ("dae", 0.3): "theano-da-0.3",
    ("vae", None): "keras-vae-mlp", ("conv_vae", None): "keras-vae-deconv-lecture",
    ("stacked", None): "theano-sda-lecture"}
SAMPLE_LECTURE_EPOCHS: dict[str, int] = {"cntk-simple-ae": 30, "theano-da": 60, "theano-da-0.3": 60,
                                         "keras-vae-mlp": 500}


def lecture_budget(r: Recipe, n_train: int, epochs: int) -> Budget:
    """The budget of the lecture's model of recipe `r`: `epochs` on `n_train` digits, as a share of the
    source's steps (the source's own budget where `epochs` are the recipe's)."""
    full = r.budget(n_train)
    if full.kind == "source" and epochs == r.settings["epochs"]:
        return full
    return Budget(kind="lecture", epochs=epochs, pretrain_epochs=None,
                  steps=epochs * math.ceil(n_train / r.settings["batch_size"]), source_steps=full.source_steps)


def lecture_recipe(family: str, settings: dict[str, Any]) -> Recipe | None:
    """The recipe behind the lecture's model of `family` with `settings` (a dae by its corruption
    level), or None where the lecture's model is the family's default."""
    if family == "dae":
        from aecore.configs import DAEConfig
        name = LECTURE_RECIPES.get(("dae", float(settings.get("level", DAEConfig.level))))
    else:
        name = LECTURE_RECIPES.get((family, None))
    return None if name is None else RECIPES[name]


BUDGET_SETTINGS = ("epochs", "pretrain_epochs")  # what a budget changes; a model of a recipe may differ in these


def is_recipe_model(r: Recipe, spec: dict) -> bool:
    """Whether the stored spec `spec` (`RunSpec.to_dict()`) is recipe `r` on some budget."""
    if spec.get("family") != r.family:
        return False
    flat = {**spec.get("model", {}), **spec.get("train", {})}
    return all(_same(flat.get(k), v) for k, v in r.settings.items() if k not in BUDGET_SETTINGS)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, tuple):
        return a is not None and tuple(a) == b
    return a == b


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.2%}"


def _num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def comparison(r: Recipe, meta: dict | None) -> list[tuple[str, str, str]]:
    """Rows (what, the source's number, ours) for recipe `r`; ours from a stored model's `meta`
    ("–" where the model is not trained or does not report it)."""
    meta = meta or {}
    metrics = {**meta.get("metrics", {}), **meta.get("reconstruction", {})}
    history = meta.get("history", [])
    own = [h for h in history if h.get("stage") == "train"]
    test = meta.get("final", {}).get("test", {})
    p = r.published
    rows: list[tuple[str, str, str]] = []
    if "cost_per_epoch" in p:
        costs = p["cost_per_epoch"]
        for i in (0, 1, len(costs) - 1):
            ours = own[i]["train"]["loss"] if i < len(own) else None
            rows.append((f"training cost, epoch {i + 1}", _num(costs[i]), _num(ours)))
        if own:  # no row for a model not trained yet
            rows.append((f"training cost, our last epoch ({len(own)})", "", _num(own[-1]["train"]["loss"])))
    if "cost_epoch_0" in p:
        for i, key in ((0, "cost_epoch_0"), (1, "cost_epoch_1")):
            rows.append((f"training cost, epoch {i + 1}", _num(p[key], 1), _num(own[i]["train"]["loss"], 1)
                         if i < len(own) else "–"))
        rows.append(("training cost, epoch 308", _num(p["cost_epoch_307"], 1),
                     _num(own[307]["train"]["loss"], 1) if len(own) > 307 else "–"))
    for key in ("filters", "figures"):
        if key in p:
            rows.append(("figure" if key == "figures" else "first-layer filters", p[key],
                         "pictured beside" if meta else "–"))
    if "parameters" in p:
        ours = f"{meta['parameters']:,}" if "parameters" in meta else "–"
        rows.append(("parameters", f"{p['parameters']:,}", ours))
    if "train_error" in p:
        rows.append(("error (brightest pixel), training digits", _pct(p["train_error"]),
                     _pct(metrics.get("train_brightest_pixel_error"))))
    if "test_error" in p and r.family != "stacked":
        rows.append(("error (brightest pixel), test digits", _pct(p["test_error"]),
                     _pct(metrics.get("brightest_pixel_error"))))
    if "loss_late" in p:
        rows.append(("loss per image, late in training", f"~{p['loss_late']}",
                     _num(own[-1]["train"]["loss"], 1) if own else "–"))
    if r.family == "stacked":
        rows.append(("test error (classification)", _pct(p.get("test_error")), _pct(metrics.get("test_error"))))
    if r.source.seed == "001":
        rows.extend(code_moment_rows(meta))
    if r.source.seed in ("001", "002"):
        what = "test loss (mean squared error per pixel)" if r.family == "ae" else "test loss (per image)"
        rows.append((what, "–", _num(test.get("loss"), 4 if r.family == "ae" else 1)))
    if r.source.seed == "003":
        for pair, label in (("6_6", "two 6s"), ("3_8", "a 3 and an 8")):
            for kind in ("original", "decoded"):
                rows.append((f"cosine similarity of {label}, {kind}", "–",
                             _num(metrics.get(f"cosine_{pair}_{kind}"))))
    return rows


def code_moment_rows(meta: dict) -> list[tuple[str, str, str]]:
    """Rows (what, the prior's, ours) for the mean and standard deviation of each dimension of a 2-D
    model's test codes, from the last epoch's probe codes in `meta` ("–" without them)."""
    probe = meta.get("probe") or {}
    snapshots = probe.get("snapshots") or []
    codes = snapshots[-1] if snapshots and not probe.get("reduced_with_pca") else []
    dims = list(zip(*codes)) if len(codes) > 1 else []
    means = ", ".join(f"{statistics.fmean(d):.2f}" for d in dims) or "–"
    stds = ", ".join(f"{statistics.stdev(d):.2f}" for d in dims) or "–"
    return [("test codes' mean per dimension", "0 (the prior N(0, I))", means),
            ("test codes' standard deviation per dimension", "1 (the prior N(0, I))", stds)]


def recipe(name: str) -> Recipe:
    """The recipe called `name`; ConfigError naming the recipes for an unknown one."""
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}") from None
