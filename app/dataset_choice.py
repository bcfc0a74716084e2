"""Which dataset the dashboard shows: the sidebar's picker, shared by every page and kept in the URL
as `data`, and the names the pages give each dataset."""
from __future__ import annotations

import streamlit as st

from aecore.data import default_dataset_name, full_mnist_on_disk
from aecore.data.datasets import SYSTEM_FASHION_DIR, data_home
from app import settings

SHORT_NAMES = {"mnist": "MNIST", "mnist-sample": "MNIST sample", "fashion-mnist": "Fashion-MNIST"}
DATASET_LABELS = {"mnist": "MNIST (70,000 digits)", "mnist-sample": "MNIST sample (5,000 digits, offline)",
                  "fashion-mnist": "Fashion-MNIST (70,000 images)"}


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
    settings.init_from_query("dataset", "data", default, choices=names)
    name = st.selectbox("Dataset", names, key="dataset", format_func=lambda n: DATASET_LABELS.get(n, n))
    if name == "mnist-sample":
        st.caption("Full MNIST is not on this machine; using the 5,000 real digits bundled for offline use.")
    st.query_params["data"] = name
    return name


def current_dataset() -> str:
    return st.session_state.get("dataset") or default_dataset_name()
