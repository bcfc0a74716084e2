"""Widgets that return choices: training settings, model pickers. Each `*_controls()` draws its
widgets with explicit keys, starts them from the URL query string and writes them back to it."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import streamlit as st

from aecore.configs import DESCRIPTIONS, FAMILIES, TrainConfig, config_class
from aecore.spec import RunSpec, make_spec
from app import resources, settings

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1]
BATCH_SIZES = [20, 32, 64, 128, 256, 512]
AE_SHAPES = {"784-32 (simple)": (), "784-128-64-32 (deep)": (128, 64), "784-256-32": (256,),
             "784-256-128-64 (deep)": (256, 128)}


def defaults(family: str) -> dict[str, Any]:
    cfg = config_class(family)()
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}


def _q(kind: str, label: str, key: str, default: Any, *, cast=float, options: Sequence | None = None,
       lo=None, hi=None, fmt: Callable | None = None, help: str | None = None, **kw) -> Any:
    """One widget backed by the query string parameter `key` (validated on the way in)."""
    if options is not None and default not in options:
        numeric = all(isinstance(o, (int, float)) for o in options)
        options = sorted({*options, default}) if numeric else [*options, default]
    settings.init_from_query(f"w_{key}", key, default, cast=cast, choices=options, lo=lo, hi=hi)
    k = f"w_{key}"
    if kind == "slider":
        value = st.slider(label, lo, hi, key=k, help=help, **kw)
    elif kind == "select_slider":
        value = st.select_slider(label, options=list(options), key=k, format_func=fmt or str, help=help)
    elif kind == "select":
        value = st.selectbox(label, list(options), key=k, format_func=fmt or str, help=help)
    elif kind == "toggle":
        value = st.toggle(label, key=k, help=help)
    else:
        raise ValueError(kind)
    st.query_params[key] = str(value)
    return value


def _bool(text: str) -> bool:
    return text in ("True", "true", "1")


def family_controls(family: str) -> dict[str, Any]:
    """Sliders for the settings that matter in `family`; returns only the changed settings."""
    d = defaults(family)
    s: dict[str, Any] = {}
    if family == "ae":
        shape = _q("select", "Hidden layers", "shape", "784-256-32", cast=str, options=list(AE_SHAPES))
        code = _q("slider", "Code size", "code", d["hidden"][-1], cast=int, lo=2, hi=128, step=1)
        s["hidden"] = (*AE_SHAPES[shape], code)
        s["activation"] = _q("select", "Activation", "act", d["activation"], cast=str,
                             options=["relu", "leaky_relu", "sigmoid", "tanh"])
        s["tied"] = _q("toggle", "Tied weights (decoder uses Wᵀ)", "tied", d["tied"], cast=_bool)
    elif family in ("dae", "sparse", "contractive"):
        hi = 1024 if family == "sparse" else 1000
        s["hidden"] = (_q("slider", "Hidden units", "hidden", d["hidden"][0], cast=int, lo=16, hi=hi, step=16,
                          help="Above 784 the code is overcomplete." if family == "sparse" else None),)
        if family == "dae":
            s["corruption"] = _q("select", "Corruption", "corruption", d["corruption"], cast=str,
                                 options=["masking", "gaussian", "salt_pepper"])
            s["level"] = _q("slider", "Corruption level", "level", d["level"], lo=0.0, hi=0.9, step=0.05)
            s["tied"] = _q("toggle", "Tied weights (decoder uses Wᵀ)", "tied", d["tied"], cast=_bool)
        elif family == "sparse":
            s["sparsity"] = _q("select", "Penalty", "penalty", d["sparsity"], cast=str, options=["kl", "l1"],
                               fmt=lambda v: {"kl": "KL to target ρ", "l1": "L1 on activations"}[v])
            if s["sparsity"] == "kl":
                s["sparsity_target"] = _q("slider", "Target activation ρ", "rho", d["sparsity_target"],
                                          lo=0.01, hi=0.5, step=0.01)
            s["sparsity_weight"] = _q("select_slider", "Sparsity weight", "sw", d["sparsity_weight"],
                                      options=[0.0, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0])
        else:
            s["contraction_weight"] = _q("select_slider", "Contraction weight λ", "lam", d["contraction_weight"],
                                         options=[0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    elif family in ("vae", "conv_vae"):
        if family == "vae":
            s["hidden"] = (_q("slider", "Hidden units", "hidden", d["hidden"][0], cast=int, lo=32, hi=1024, step=32),)
        else:
            s["filters"] = _q("select_slider", "Filters", "filters", d["filters"], cast=int, options=[8, 16, 32, 64])
        s["latent"] = _q("slider", "Latent size", "latent", d["latent"], cast=int, lo=2, hi=32, step=1,
                         help="2 gives a latent plane you can walk on the Latent grid page.")
        s["beta"] = _q("select_slider", "β (KL weight)", "beta", d["beta"], options=[0.0, 0.5, 1.0, 2.0, 4.0, 8.0])
    elif family == "stacked":
        depth = _q("slider", "Layers", "layers", len(d["hidden"]), cast=int, lo=1, hi=3, step=1)
        width = _q("slider", "Units per layer", "hidden", d["hidden"][0], cast=int, lo=64, hi=1000, step=32)
        level = _q("slider", "Corruption of each layer", "level", d["levels"][0], lo=0.0, hi=0.9, step=0.05)
        s["hidden"] = tuple(max(width // 2 ** i, 16) for i in range(depth))
        s["levels"] = (level,) * depth
        s["pretrain_epochs"] = _q("slider", "Pretraining epochs per layer", "pre", d["pretrain_epochs"],
                                  cast=int, lo=0, hi=30, step=1)
    return s


def training_controls() -> dict[str, Any]:
    t = TrainConfig()
    return {
        "epochs": _q("slider", "Epochs", "epochs", t.epochs, cast=int, lo=1, hi=50, step=1),
        "lr": _q("select_slider", "Learning rate", "lr", t.lr, options=LEARNING_RATES, fmt=lambda v: f"{v:g}"),
        "batch_size": _q("select_slider", "Batch size", "batch", t.batch_size, cast=int, options=BATCH_SIZES),
        "optimizer": _q("select", "Optimizer", "opt", t.optimizer, cast=str, options=["adam", "sgd"]),
    }


def family_picker(label: str = "Model family", families: Sequence[str] = FAMILIES) -> str:
    return _q("select", label, "family", families[0], cast=str, options=list(families),
              fmt=lambda f: f"{f} — {DESCRIPTIONS[f]}")


def spec_controls(dataset: str) -> RunSpec:
    """The Train page's settings: family, its sliders, training settings. Returns the spec to train."""
    family = family_picker()
    left, right = st.columns(2)
    with left:
        model = family_controls(family)
    with right:
        train = training_controls()
    return make_spec(family, dataset, **model, **train)


def trained_models(dataset: str, accept: Callable[[RunSpec], bool] = lambda s: True) -> list[dict]:
    """Metadata of stored models trained on `dataset` whose spec passes `accept`, newest first."""
    out = []
    for meta in resources.registry().store.list():
        try:
            spec = RunSpec.from_dict(meta["spec"])
        except Exception:
            continue
        if meta["dataset"]["name"] == dataset and accept(spec):
            out.append(meta)
    return out


def model_picker(dataset: str, *, label: str, default: RunSpec, param: str = "model",
                 accept: Callable[[RunSpec], bool] = lambda s: True, why: str = "") -> tuple[str, Any] | None:
    """Pick a trained model for this page (kept in the URL as `param`), or offer to train `default`.

    Returns (key, StoredModel) or None when nothing suitable is trained yet.
    """
    from app.training import train_offer
    metas = trained_models(dataset, accept)
    if not metas:
        train_offer(default, why=why, key=f"offer-{param}")
        return None
    keys = [m["key"] for m in metas]
    labels = {m["key"]: m.get("label", m["key"]) for m in metas}
    default_key = resources.model_key(default)
    settings.init_from_query(f"pick_{param}", param, default_key if default_key in keys else keys[0], choices=keys)
    if st.session_state[f"pick_{param}"] not in keys:  # the chosen model was deleted meanwhile
        st.session_state[f"pick_{param}"] = keys[0]
    key = st.selectbox(label, keys, key=f"pick_{param}", format_func=lambda k: f"{labels[k]}  ·  {k[:6]}")
    st.query_params[param] = key
    stored = resources.stored_model(key)
    if stored is None:
        st.error("That model could not be loaded; it will be retrained when you train it again.")
        return None
    return key, stored
