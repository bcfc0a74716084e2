"""Resources shared by every browser session, and per-session state kept in the URL.

Shared (`st.cache_resource`): the job registry, datasets and loaded models. They are never mutated
per user: models are used for inference only, in eval mode. Per session: widget values, initialised
from the URL query string once and written back, so a lecturer can share a link to a view.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Sequence

import streamlit as st

from aecore.analysis.map_worker import shared_worker
from aecore.data import Dataset, default_dataset_name, full_mnist_on_disk, load_dataset
from aecore.data.datasets import SYSTEM_FASHION_DIR, data_home
from aecore.errors import AecoreError
from aecore.jobs import Job, JobRegistry, default_registry
from aecore.runs import resolve
from aecore.spec import RunSpec, check_key
from aecore.store import StoredModel

SHORT_NAMES = {"mnist": "MNIST", "mnist-sample": "MNIST sample", "fashion-mnist": "Fashion-MNIST"}
DATASET_LABELS = {"mnist": "MNIST (70,000 digits)", "mnist-sample": "MNIST sample (5,000 digits, offline)",
                  "fashion-mnist": "Fashion-MNIST (70,000 images)"}


# ---- shared resources ---------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    return default_registry()


@st.cache_resource(show_spinner="Loading data…", max_entries=4)
def dataset(name: str) -> Dataset:
    return load_dataset(name)


@st.cache_resource(show_spinner="Loading model…", max_entries=32)
def _load_stored(key: str) -> StoredModel:
    found = registry().store.load(key)
    if found is None:
        raise KeyError(key)  # raising keeps a miss out of the cache, so a later save is seen
    return found


def stored_model(key: str) -> StoredModel | None:
    """The model saved under `key` (loaded once per process), or None."""
    try:
        return _load_stored(check_key(key))
    except (KeyError, AecoreError):
        return None


def model_key(spec: RunSpec) -> str:
    """The store key of `spec` on its dataset (the dataset is loaded once per process)."""
    spec, data = resolve(spec)
    return spec.key(data.fingerprint)


def find_model(spec: RunSpec) -> tuple[str, StoredModel | None, Job | None]:
    """(key, the stored model if trained, the job if one is queued/running/finished in this process)."""
    key = model_key(spec)
    job = registry().get(key)
    if job is not None and job.state == "done" and job.result is not None:
        return key, stored_model(key) or job.result, job
    return key, stored_model(key), job


def model_status(spec: RunSpec) -> tuple[str, str, Job | None]:
    """(key, status, job) without loading the model, for lists of models such as the Home page's:
    "ready" when the store holds the model or its job has finished, else the job's state or
    "not trained". Loading would read every model's weights and import torch."""
    key = model_key(spec)
    job = registry().get(key)
    if (job is not None and job.state == "done") or registry().store.read_meta(key) is not None:
        return key, "ready", job
    return key, job.state if job is not None else "not trained", job


_warm_started = threading.Event()
# The warm-up waits this long after the first page's script: importing torch holds the GIL for long
# stretches, and the browser is still fetching that page's element scripts from this server.
WARMUP_DELAY_S = 1.0


def warmup_enabled() -> bool:
    return os.environ.get("LATENTLAB_WARMUP", "1") != "0"


def start_map_worker() -> None:
    """Start the map worker process (t-SNE and UMAP) if it is not running. Spawning it takes a few
    milliseconds of this process; its imports and numba warm-up run in the child, on another core."""
    if warmup_enabled():
        shared_worker().start()


def start_background_warmup() -> None:
    """Once per server, in a background thread: import torch and the models (the Home page needs
    neither), so that the next page is fast. scikit-learn is left to the PCA map and the probes that
    use it: importing it here delays the first UMAP map (bench.interaction)."""
    if _warm_started.is_set() or not warmup_enabled():
        return
    _warm_started.set()

    def warm():
        try:
            import aecore.analysis.latent  # noqa: F401 (torch and the models: what every other page imports first)
            import aecore.analysis.metrics  # noqa: F401
            from aecore.analysis import heavy_imports
            with heavy_imports:  # every plotly figure needs it first (figures._figure)
                import pandas  # noqa: F401
        except Exception:  # a failed warm-up only costs speed later
            pass

    timer = threading.Timer(WARMUP_DELAY_S, warm)
    timer.name, timer.daemon = "warmup", True
    timer.start()


# ---- datasets -------------------------------------------------------------------------------------

def available_datasets() -> list[str]:
    names = ["mnist"] if full_mnist_on_disk() else []
    names.append("mnist-sample")
    if SYSTEM_FASHION_DIR.is_dir() or (data_home() / "data" / "fashion-mnist").is_dir():
        names.append("fashion-mnist")
    return names


def dataset_controls() -> str:
    """The sidebar's dataset picker, shared by every page (kept in the URL as `data`)."""
    names = available_datasets()
    default = default_dataset_name()
    init_from_query("dataset", "data", default, choices=names)
    name = st.selectbox("Dataset", names, key="dataset", format_func=lambda n: DATASET_LABELS.get(n, n))
    if name == "mnist-sample":
        st.caption("Full MNIST is not on this machine; using the 5,000 real digits bundled for "
                   "offline use. `python -m aecore prepare` downloads the full set.")
    st.query_params["data"] = name
    return name


def current_dataset() -> str:
    return st.session_state.get("dataset") or default_dataset_name()


# ---- pages ----------------------------------------------------------------------------------------

def record_page(name: str) -> None:
    """Called by the entry script before each run of a page: which page this session runs now."""
    st.session_state["_page_before"] = st.session_state.get("_page_now")
    st.session_state["_page_now"] = name


def stayed_on_page() -> bool:
    """True when this session's previous run was of the same page: its elements are still in the
    browser. False when the user has just come to the page (or reloaded it)."""
    before = st.session_state.get("_page_before")
    return before is not None and before == st.session_state.get("_page_now")


# ---- URL query string -----------------------------------------------------------------------------

_SETTINGS = "_page_settings"  # session_state: the keys `init_from_query` has set up in this session


def init_from_query(key: str, param: str, default: Any, *, cast: Callable[[str], Any] = str,
                    choices: Sequence[Any] | None = None, lo: float | None = None, hi: float | None = None) -> None:
    """Set session_state[key] once per session from `?param=` if it is valid, else from `default`.

    Query values are untrusted text: they are cast, range-checked and matched against `choices`;
    anything else is ignored. None of them ever names a file. A value kept from earlier in the session
    that no longer fits (the choices depend on the dataset, or a model was deleted) goes back to
    `default`. `keep_settings` keeps the value while pages without this widget run.
    """
    st.session_state.setdefault(_SETTINGS, set()).add(key)
    if key in st.session_state and _fits(st.session_state[key], choices, lo, hi):
        return
    value = default
    raw = None if key in st.session_state else st.query_params.get(param)  # the URL counts once
    if raw is not None:
        try:
            candidate = cast(raw)
            if _fits(candidate, choices, lo, hi):
                value = candidate
        except (ValueError, TypeError):
            pass
    st.session_state[key] = value


def _fits(value: Any, choices: Sequence[Any] | None, lo: float | None, hi: float | None) -> bool:
    try:
        return (choices is None or value in choices) and (lo is None or value >= lo) and (hi is None or value <= hi)
    except TypeError:  # e.g. a value of another type than the bounds
        return False


def keep_settings() -> None:
    """Called by the entry script before every page: re-set each page setting of this session.

    Streamlit forgets a widget's value when a run does not draw that widget, so without this every
    page would come back to its defaults after a visit to another page (and a page switch drops the
    URL's query string too). A value set through session_state is kept, which is Streamlit's own
    advice ("Widget behavior: retain statefulness when changing pages").
    """
    for key in st.session_state.get(_SETTINGS, ()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def set_query(**params: Any) -> None:
    """Write the page's settings to the URL (values as text)."""
    for name, value in params.items():
        st.query_params[name] = str(value)
