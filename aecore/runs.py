"""Train a `RunSpec` end to end: seed, build, train, describe the result, store it.

`train_and_store` is the one path from settings to a stored model, used by the job registry, the
CLI and `get_or_train`, which puts the model store's lookup in front of it. `train_spec` trains
without storing (the benchmarks and tests use it).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from aecore.data import Dataset, load_dataset
from aecore.errors import ConfigError, StoreError
from aecore.spec import RunSpec
from aecore.store import ModelStore, StoredModel

if TYPE_CHECKING:  # torch, the models and the trainer are imported when a model is trained:
    from aecore.trainer import Trainer, TrainResult  # resolving a spec to its store key needs none of them


def resolve(spec: RunSpec, *, download: bool = False, progress=None) -> tuple[RunSpec, Dataset]:
    """Load the spec's dataset and return the spec with "auto" replaced by the concrete name and a
    classification head (`num_classes`, stacked) widened to the data's number of classes."""
    data = load_dataset(spec.dataset, download=download, progress=progress)
    spec = spec.with_dataset(data.name) if spec.dataset == "auto" else spec
    classes = len(data.class_names)
    if getattr(spec.model, "num_classes", classes) < classes:
        spec = replace(spec, model=replace(spec.model, num_classes=classes))
    return spec, data


def train_spec(spec: RunSpec, data: Dataset, *, device=None, callbacks=None,
               on_trainer: Callable[[Trainer], None] | None = None, share_cores: bool = False) -> TrainResult:
    """Train a fresh model for `spec` on `data`. Initialisation is seeded by `spec.train.seed`.
    `share_cores` as for `Trainer`."""
    import torch

    from aecore.device import pick_device
    from aecore.memory import check_training_fits
    from aecore.models import build_model
    from aecore.trainer import Trainer

    classes = len(data.class_names)
    if getattr(spec.model, "num_classes", classes) < classes:
        raise ConfigError(f"{spec.family}'s head has {spec.model.num_classes} classes but the data has {classes}; "
                          f"set num_classes to at least {classes}")
    device = device if isinstance(device, torch.device) else pick_device(device)
    check_training_fits(spec, len(data.x_train) + len(data.x_val) + len(data.x_test), len(data.x_train), device)
    torch.manual_seed(spec.train.seed)
    model = build_model(spec.family, spec.model)
    trainer = Trainer(model, data, spec.train, device=device, callbacks=callbacks, share_cores=share_cores)
    if on_trainer is not None:
        on_trainer(trainer)
    result = trainer.run()
    if len(data.x_test):
        from aecore.metrics import brightest_pixel_error, reconstruct_images, reconstruction_agreement
        result.reconstruction = reconstruction_agreement(result.model, data.x_test, data.y_test)
        train = data.x_train[:10_000]  # CNTK reports its error on the training digits too
        result.reconstruction["train_brightest_pixel_error"] = brightest_pixel_error(
            train.reshape(len(train), -1).astype(np.float32) / 255.0, reconstruct_images(result.model, train))
    return result


def describe_run(spec: RunSpec, data: Dataset, result: TrainResult) -> dict:
    """The metadata saved beside the weights: everything the dashboard shows without retraining."""
    return {
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "spec": spec.to_dict(),
        "label": spec.label(),
        "dataset": {"name": data.name, "fingerprint": data.fingerprint, "description": data.description,
                    "train": len(data.x_train), "val": len(data.x_val), "test": len(data.x_test)},
        "history": result.history,
        "probe": result.probe.to_dict(),
        "final": result.final,
        "metrics": result.metrics,
        "reconstruction": result.reconstruction,  # CNTK 105's error and cosine similarities, test digits
        "seconds": result.seconds,
        "samples_per_s": result.samples_per_s,
        "device": str(next(result.model.parameters()).device),
        "stopped_early": result.stopped_early,
        "finished": time.time(),
    }


@dataclass
class TrainedModel:
    """What `train_and_store` hands back."""

    stored: StoredModel  # model on the CPU in eval mode, meta as a later `ModelStore.load` gives them
    stopped_early: bool  # a callback or stop request ended training: kept in memory, never stored
    warning: str | None = None  # why a finished model is kept in memory only (e.g. a read-only store)


def train_and_store(spec: RunSpec, data: Dataset, store: ModelStore, *, device=None, callbacks=None,
                    on_trainer: Callable[[Trainer], None] | None = None,
                    share_cores: bool = False, extra_meta: dict | None = None) -> TrainedModel:
    """Train a fresh model for `spec` on `data` and save it in `store` under its key.

    Parameters
    ----------
    spec : RunSpec
        Settings with a concrete dataset (see `resolve`).
    data : Dataset
        The spec's data; its fingerprint is part of the store key.
    store : ModelStore
    device, callbacks, on_trainer, share_cores
        As for `train_spec`.
    extra_meta : dict, optional
        Saved in the metadata beside what `describe_run` gives (a recipe's name and budget).

    Returns
    -------
    TrainedModel
        A model stopped early is not stored; a store that cannot save keeps it in memory, with a
        warning. Raises what training raises (e.g. `DivergenceError`).
    """
    key = spec.key(data.fingerprint)
    result = train_spec(spec, data, device=device, callbacks=callbacks, on_trainer=on_trainer,
                        share_cores=share_cores)
    meta = {**describe_run(spec, data, result), **(extra_meta or {})}
    result.model.cpu().eval()  # where a loaded model lives: a fresh model and a loaded one behave alike
    stored = StoredModel(key=key, model=result.model, meta={**meta, "key": key})
    if result.stopped_early:  # a partial model is never stored under the full model's key
        return TrainedModel(stored, stopped_early=True)
    try:
        store.save(key, result.model, meta)
    except StoreError as e:  # a read-only or full store must not throw the trained model away
        return TrainedModel(stored, stopped_early=False, warning=f"{e}; the model is kept in memory only")
    # The meta as stored (JSON types, versions, checksum), so a fresh model reads like a loaded one.
    stored.meta = store.read_meta(key) or stored.meta
    return TrainedModel(stored, stopped_early=False)


def get_or_train(spec: RunSpec, store: ModelStore | None = None, *, device=None, callbacks=None,
                 download: bool = False) -> tuple[StoredModel, bool]:
    """The stored model for `spec`, training and saving it first if needed. Returns (model, trained).

    The model is on the CPU either way, as `ModelStore.load` gives it, wherever it was trained."""
    store = store or ModelStore()
    spec, data = resolve(spec, download=download)
    found = store.load(spec.key(data.fingerprint))
    if found is not None:
        return found, False
    trained = train_and_store(spec, data, store, device=device, callbacks=callbacks)
    if trained.warning:
        warnings.warn(trained.warning, stacklevel=2)
    return trained.stored, True
