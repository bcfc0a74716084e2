"""Shared fixtures: an isolated AECORE_HOME for every test, a tiny seeded slice of the offline MNIST
sample, the same slice as an .npz file (for code paths that load data by name), and a model store.

Model tests use each family's small config (`SMALL_CONFIGS`) so the whole core suite trains in seconds.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from aecore.configs import FAMILIES, config_class
from aecore.data import Dataset, load_dataset
from aecore.data import datasets as datasets_module
from aecore.store import ModelStore

# These models are tiny: one intra-op thread is as fast, and it keeps OpenMP's spinning threads from
# slowing the suite tenfold when other processes share the two cores.
torch.set_num_threads(1)

TINY_SIZES = {"train": 512, "val": 128, "test": 256}

# One small configuration per registered family, as the family declares it (`small` on its config):
# fast on two CPU cores, same code paths as the defaults.
SMALL_CONFIGS: dict[str, dict] = {family: config_class(family).small for family in FAMILIES}


@pytest.fixture(autouse=True, scope="session")
def shared_numba_cache(pytestconfig):
    """One numba kernel cache for the whole run (in .pytest_cache): every test has its own AECORE_HOME,
    where the cache would otherwise go, and each map worker process and dashboard server would compile
    UMAP's kernels again (about 30 s each). Inherited by the processes tests start."""
    before = os.environ.get("NUMBA_CACHE_DIR")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(pytestconfig.cache.mkdir("numba")))
    yield
    if before is None:
        os.environ.pop("NUMBA_CACHE_DIR", None)


@pytest.fixture(scope="session", autouse=True)
def shared_lecture_models(tmp_path_factory):
    """One home of lecture models that every `prepare_home` of this run copies from and adds to, so
    the modules that need the lecture set train it once between them."""
    from bench.lecture_hall.server import PREPARED_MODELS_ENV
    before = os.environ.get(PREPARED_MODELS_ENV)
    os.environ[PREPARED_MODELS_ENV] = str(tmp_path_factory.mktemp("lecture-models"))
    yield Path(os.environ[PREPARED_MODELS_ENV])
    if before is None:
        os.environ.pop(PREPARED_MODELS_ENV, None)
    else:
        os.environ[PREPARED_MODELS_ENV] = before


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own AECORE_HOME and an empty dataset cache; ~/.cache is never touched."""
    home = tmp_path / "aecore-home"
    monkeypatch.setenv("AECORE_HOME", str(home))
    datasets_module._clear_cache()
    yield home
    datasets_module._clear_cache()


def _take(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    idx = np.sort(rng.permutation(len(x))[:n])
    return np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Dataset:
    """A real `Dataset`: a seeded 512 / 128 / 256 slice of the "mnist-sample" digits."""
    home = tmp_path_factory.mktemp("tiny-home")
    full = load_dataset("mnist-sample", home=home)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in TINY_SIZES.items():
        x, y = full.split(split)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _take(x, y, n, rng)
    datasets_module._clear_cache()
    return Dataset(name="mnist-tiny", description="512 / 128 / 256 digits of the MNIST sample",
                   class_names=full.class_names, fingerprint=datasets_module._fingerprint(arrays), **arrays)


@pytest.fixture(scope="session")
def tiny_npz(tiny_data, tmp_path_factory) -> Path:
    """`tiny_data` written as an .npz (train = train + val), for paths that load a dataset by name."""
    path = tmp_path_factory.mktemp("tiny-npz") / "tiny.npz"
    np.savez(path, x_train=np.concatenate([tiny_data.x_train, tiny_data.x_val]),
             y_train=np.concatenate([tiny_data.y_train, tiny_data.y_val]),
             x_test=tiny_data.x_test, y_test=tiny_data.y_test)
    return path


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "store")


@pytest.fixture
def ask_before_training(monkeypatch):
    """Pages ask before they train, as on full MNIST: AppTest tests that bring their own tiny models do
    not start the lecture models in the background (app.training.ensure_trained)."""
    from app import training
    monkeypatch.setattr(training, "AUTO_TRAIN_MAX_S", 0)


@pytest.fixture
def fresh_app(monkeypatch):
    """A clean dashboard process state for AppTest: empty Streamlit caches, no UMAP warm-up thread,
    and a job registry whose store follows this test's AECORE_HOME; running jobs are stopped after."""
    import streamlit as st

    import aecore.jobs
    monkeypatch.setenv("LATENTLAB_WARMUP", "0")
    st.cache_resource.clear()
    st.cache_data.clear()
    datasets_module._clear_cache()
    aecore.jobs._default = None
    yield
    for job in aecore.jobs._default.jobs() if aecore.jobs._default else []:
        job.cancel()
        job.wait(30)
    aecore.jobs._default = None
