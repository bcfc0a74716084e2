"""Resources every browser session shares, cached once per server process (`st.cache_resource`):
the job registry, the datasets and the loaded models, with the look-ups pages make on them. None is
ever mutated per user: models are used for inference only, in eval mode."""
from __future__ import annotations

import streamlit as st

from aecore.data import Dataset, load_dataset
from aecore.errors import AecoreError
from aecore.jobs import Job, JobRegistry, default_registry
from aecore.runs import resolve
from aecore.spec import RunSpec, check_key
from aecore.store import StoredModel


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


def media_url(data: bytes, mimetype: str, place: str) -> str:
    """A URL the browser can fetch `data` from, served by Streamlit's media files while this session's
    page shows it at `place` (a name unique on the page). The same bytes keep the same URL, so a browser
    that fetched them once takes them from its cache. Outside a running server: a data URL."""
    import base64

    from streamlit import runtime

    if not runtime.exists():
        return f"data:{mimetype};base64," + base64.b64encode(data).decode("ascii")
    url = runtime.get_instance().media_file_mgr.add(data, mimetype, place)
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{url}" if base else url
