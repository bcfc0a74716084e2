"""Widgets that return choices: training settings, model pickers. Each `*_controls()` draws its
widgets with explicit keys, starts them from the URL query string and writes them back to it."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import streamlit as st

from aecore.configs import CORRUPTIONS, FAMILIES, OPTIMIZERS, FamilyConfig, TrainConfig, config_class
from aecore.errors import AecoreError
from aecore.spec import RunSpec, lecture_spec, make_spec
from app import resources, settings

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1]
BATCH_SIZES = [20, 32, 64, 128, 256, 512]
_URL_FAMILY = "_url_family"  # session_state: the family the URL named when this session opened Train
CORRUPTION_NAMES = {"masking": "masking", "gaussian": "Gaussian noise", "salt_pepper": "salt and pepper"}  # fit the box


def _q(kind: str, label: str, key: str, default: Any, *, cast=float, options: Sequence | None = None,
       lo=None, hi=None, fmt: Callable | None = None, help: str | None = None, widget_key: str | None = None,
       **kw) -> Any:
    """One widget backed by the query string parameter `key` (validated on the way in); its session
    key is `widget_key`, by default `w_<key>`."""
    if options is not None and default not in options:
        numeric = all(isinstance(o, (int, float)) for o in options)
        options = sorted({*options, default}) if numeric else [*options, default]
    k = widget_key or f"w_{key}"
    settings.init_from_query(k, key, default, cast=cast, choices=options, lo=lo, hi=hi)
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


def _cast(default: Any) -> Callable[[str], Any]:
    return _bool if isinstance(default, bool) else type(default)


def family_controls(family: str, start: FamilyConfig | None = None) -> dict[str, Any]:
    """The widgets the family declares (`controls` on its config); returns the settings they give,
    none where they still show `start` (the settings they start from, by default the family's own).

    Each family keeps its own widget values (keys `w_<family>_<name>`), starting from `start`: a dae
    picked after an ae is tied, as the dae's are. URL values count only for the family the URL named
    when the session opened the page.
    """
    cfg = config_class(family)
    defaults = (start or cfg()).control_values()
    from_url = st.session_state.get(_URL_FAMILY) == family
    values: dict[str, Any] = {}
    for c in cfg.controls:
        if c.shown_when is not None and values.get(c.shown_when[0]) != c.shown_when[1]:
            continue
        key = f"w_{family}_{c.name}"
        if not from_url:  # kept or started before the widget, so the URL's value (another family's) is not read
            settings.keep(key, lambda default=defaults[c.name]: default)
        fmt = (lambda v, labels=c.option_labels: labels[v]) if c.option_labels else None
        values[c.name] = _q(c.kind, c.label, c.name, defaults[c.name], cast=_cast(defaults[c.name]),
                            options=c.options or None, lo=c.lo, hi=c.hi, step=c.step, fmt=fmt, help=c.help,
                            widget_key=key)
    # drop the URL parameters of the controls of the family picked before
    for name in {c.name for f in FAMILIES for c in config_class(f).controls} - {c.name for c in cfg.controls}:
        st.query_params.pop(name, None)
    # unmoved widgets leave the start's settings whole (e.g. a stacked model's unequal levels)
    return {} if values == {k: defaults[k] for k in values} else cfg.from_controls(values)


def training_controls(family: str = "ae", start: TrainConfig | None = None) -> dict[str, Any]:
    """Epochs, learning rate, batch size and optimizer, per family (keys `w_<family>_<param>`),
    starting from `start`; URL values count as in `family_controls`."""
    t = start or TrainConfig()
    from_url = (st.session_state.get(_URL_FAMILY) or next(iter(FAMILIES))) == family
    wanted = {"epochs": t.epochs, "lr": t.lr, "batch": t.batch_size, "opt": t.optimizer}
    if not from_url:
        for param, value in wanted.items():
            settings.keep(f"w_{family}_{param}", lambda value=value: value)
    return {
        # each range holds the start's own value: a recipe's 60 epochs, lr 1e-3 or RMSprop
        "epochs": _q("slider", "Epochs", "epochs", t.epochs, cast=int, lo=1, hi=max(50, t.epochs), step=1,
                     widget_key=f"w_{family}_epochs"),
        "lr": _q("select_slider", "Learning rate", "lr", t.lr, options=sorted({*LEARNING_RATES, t.lr}),
                 fmt=lambda v: f"{v:g}", widget_key=f"w_{family}_lr"),
        "batch_size": _q("select_slider", "Batch size", "batch", t.batch_size, cast=int,
                         options=sorted({*BATCH_SIZES, t.batch_size}), widget_key=f"w_{family}_batch"),
        "optimizer": _q("select", "Optimizer", "opt", t.optimizer, cast=str, options=list(OPTIMIZERS),
                        widget_key=f"w_{family}_opt"),
    }


def family_picker(label: str = "Model family", families: Sequence[str] | None = None) -> str:
    families = list(families or FAMILIES)
    st.session_state.setdefault(_URL_FAMILY, st.query_params.get("family"))
    return _q("select", label, "family", families[0], cast=str, options=list(families),
              fmt=lambda f: f"{f} — {config_class(f).description}")


def spec_controls(dataset: str) -> RunSpec:
    """The Train page's settings: family, its sliders, training settings, all starting from the
    family's lecture model (so picking a family shows it). Returns the spec to train."""
    family = family_picker()
    lecture = lecture_spec(family, dataset)
    left, right = st.columns(2)
    with left:
        model = family_controls(family, lecture.model)
    with right:
        train = training_controls(family, lecture.train)
    return make_spec(family, dataset, **{**asdict(lecture.model), **model, **asdict(lecture.train), **train})


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


def _label(meta: dict) -> str:
    """The model's label as `RunSpec.label` words it now (a store may hold an older wording)."""
    try:
        return RunSpec.from_dict(meta["spec"]).label()
    except (KeyError, TypeError, ValueError, AecoreError):
        return meta.get("label", meta["key"])


def model_names(metas: list[dict]) -> dict[str, str]:
    """key -> the model's label, with a short key only where two models share a label."""
    labels = [_label(m) for m in metas]
    return {m["key"]: label + (f" · {m['key'][:6]}" if labels.count(label) > 1 else "")
            for m, label in zip(metas, labels)}


def model_picker(dataset: str, *, label: str, default: RunSpec, key: str, param: str = "model",
                 accept: Callable[[RunSpec], bool] = lambda s: True, why: str = "") -> tuple[str, Any] | None:
    """Pick a trained model for this page: its own setting `key` (kept in the URL as `param`), starting
    at `default`, the model the page's figure needs.

    While `default` is not trained and the user has picked nothing else, the page gets it trained
    (`app.training.ensure_trained`: at once on small data). Returns (key, StoredModel), or None while
    the page has no model to show.
    """
    from app import training
    metas = trained_models(dataset, accept)
    keys = [m["key"] for m in metas]
    default_key = resources.model_key(default)
    wanted = st.session_state.get(key, settings.kept_value(key)) or st.query_params.get(param)
    if default_key not in keys and wanted not in keys:
        stored = training.ensure_trained(default, why=why, key=f"{key}-train")
        job = resources.registry().get(default_key)
        if stored is None and (not keys or (job is not None and not job.done)):
            return None
        metas = trained_models(dataset, accept)
        keys = [m["key"] for m in metas]
    names = model_names(metas)
    settings.init_from_query(key, param, default_key if default_key in keys else keys[0], choices=keys)
    chosen = st.selectbox(label, keys, key=key, format_func=names.get)
    st.query_params[param] = chosen
    stored = resources.stored_model(chosen)
    if stored is None:
        st.error("That model could not be loaded; it will be retrained when you train it again.")
        return None
    return chosen, stored


def corruption_controls(kind_col, level_col, *, key: str, param: str, default_kind: str, default_level: float,
                        level_help: str) -> tuple[str, float]:
    """Corruption kind and level, drawn in `kind_col` and `level_col`.

    Parameters
    ----------
    key, param : the widgets' keys are `{key}_kind` and `{key}_level`, kept in the URL as `{param}kind`
        and `{param}level`.
    default_kind, default_level : where they start when the URL names nothing.
    level_help : the level slider's help, saying what the noise is for on this page.

    Returns
    -------
    (kind, level), kind one of `aecore.configs.CORRUPTIONS`.
    """
    settings.init_from_query(f"{key}_kind", f"{param}kind", default_kind, choices=CORRUPTIONS)
    settings.init_from_query(f"{key}_level", f"{param}level", default_level, cast=float, lo=0.0, hi=0.9)
    kind = kind_col.selectbox("Corruption", CORRUPTIONS, key=f"{key}_kind", format_func=CORRUPTION_NAMES.get,
                              help="Masking sets a fraction of the pixels to 0; Gaussian noise adds noise of "
                                   "that σ; salt and pepper sets that fraction of pixels to 0 or 1.")
    level = level_col.slider("Corruption level", 0.0, 0.9, step=0.05, key=f"{key}_level", help=level_help)
    settings.set_query(**{f"{param}kind": kind, f"{param}level": f"{level:g}"})
    return kind, level
