"""A model-agnostic trainer: shuffled index slices over data held on the device, named callbacks.

`Trainer(model, data, cfg).run()` trains every `Stage` the model plans, fires `on_batch_end` and
`on_epoch_end` with a `Progress` snapshot, records the codes of a fixed probe set of test digits after
each epoch, and returns a `TrainResult`. A callback returning True, or `request_stop()`, ends training
early and the partly trained model is still returned. A NaN or infinite loss raises
`DivergenceError` with advice instead of handing back a garbage model.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Callable

import numpy as np
import torch

from aecore.device import CoreSharing, autocast_dtype, pick_device
from aecore.errors import DivergenceError
from aecore.models import Autoencoder, Stage
from aecore.configs import TrainConfig

PROBE_SIZE = 1000  # test digits whose codes are recorded each epoch to replay how the map formed
EVAL_BATCH = 2048
DIVERGENCE_FACTOR = 100.0  # a loss this many times the stage's first batch loss counts as diverged


@dataclass
class Progress:
    """A snapshot handed to callbacks. Losses are means over the epoch so far (train) or the
    validation split (val, at epoch end only)."""

    event: str  # "batch" or "epoch"
    stage: str
    stage_index: int
    epoch: int  # 1-based, within the stage
    epochs: int  # epochs of this stage
    step: int  # batches done in this epoch
    steps: int  # batches per epoch
    global_step: int
    total_steps: int  # over all stages
    samples_per_s: float
    elapsed_s: float
    eta_s: float
    train: dict[str, float]
    val: dict[str, float] | None = None
    probe: ProbeSnapshot | None = None  # at the end of an epoch of the model's own stages

    @property
    def fraction(self) -> float:
        return self.global_step / max(self.total_steps, 1)

    def to_dict(self) -> dict:
        """The snapshot as plain numbers, as the history keeps it (without the probe codes)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "probe"}
        out["train"] = dict(self.train)
        out["val"] = None if self.val is None else dict(self.val)
        return out


@dataclass(frozen=True)
class ProbeSnapshot:
    """The probe digits' codes after one epoch, as the live latent chart shows them."""

    name: str  # "stage epoch"
    codes: np.ndarray  # (P, 2)
    labels: np.ndarray  # (P,)
    reduced_with_pca: bool  # codes are PCA-2 of larger codes


@dataclass
class ProbeRecord:
    """Codes of fixed test digits after each epoch, as 2-D points (PCA-2 of larger codes)."""

    indices: np.ndarray  # (P,) indices into the test split
    labels: np.ndarray  # (P,)
    snapshots: list[np.ndarray] = field(default_factory=list)  # each (P, 2)
    snapshot_names: list[str] = field(default_factory=list)  # "stage epoch", one per snapshot
    projection: tuple[np.ndarray, np.ndarray] | None = None  # (mean (D,), components (D, 2)) if D > 2

    def to_dict(self) -> dict:
        return {"indices": self.indices.tolist(), "labels": self.labels.tolist(),
                "snapshot_names": self.snapshot_names,
                "snapshots": [np.round(s, 4).tolist() for s in self.snapshots],
                "reduced_with_pca": self.projection is not None}


@dataclass
class TrainResult:
    model: Autoencoder
    history: list[dict]  # one Progress dict per epoch, every stage
    probe: ProbeRecord
    final: dict[str, dict[str, float]]  # {"train": parts, "val": parts, "test": parts}
    metrics: dict[str, float]  # family-specific (stacked accuracies)
    seconds: float
    samples_per_s: float
    stopped_early: bool


Callback = Callable[[Progress], "bool | None"]


def as_tensor_images(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 784) float32 in [0, 1] on `device`."""
    # A copy: datasets are shared read-only between sessions, and torch wants writable memory.
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).reshape(len(images), -1)
    return x.to(device).float().div_(255.0)


class Trainer:
    def __init__(self, model: Autoencoder, data, cfg: TrainConfig = TrainConfig(), *,
                 device: str | torch.device | None = None, callbacks: dict[str, list[Callback]] | None = None,
                 share_cores: bool = False):
        """`data` is an `aecore.data.Dataset` (anything with x_/y_ train, val, test arrays).

        `share_cores`: on the CPU, train on fewer threads while other processes are busy (see
        `aecore.device.CoreSharing`); the dashboard's jobs do, as its browser may share the machine.
        """
        self.cfg = cfg
        self.share_cores = share_cores
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.model = model.to(self.device)
        self.callbacks: dict[str, list[Callback]] = defaultdict(list, callbacks or {})
        self._stop = threading.Event()
        self.x_train, self.y_train = self._tensors(data.x_train, data.y_train)
        self.x_val, self.y_val = self._tensors(data.x_val, data.y_val)
        self.x_test, self.y_test = self._tensors(data.x_test, data.y_test)
        rng = np.random.default_rng(0)  # the probe set is the same for every model on this dataset
        probe_idx = np.sort(rng.permutation(len(data.x_test))[:PROBE_SIZE])
        self.probe = ProbeRecord(indices=probe_idx, labels=np.asarray(data.y_test)[probe_idx])
        self._probe_x = self.x_test[torch.from_numpy(probe_idx).to(self.device)]

    def _tensors(self, images, labels):
        return as_tensor_images(images, self.device), torch.tensor(np.asarray(labels), dtype=torch.int64, device=self.device)

    def add_callback(self, event: str, fn: Callback) -> None:
        self.callbacks[event].append(fn)

    def request_stop(self) -> None:
        """Ask the loop to stop after the current batch; `run` then returns what was trained."""
        self._stop.set()

    def _fire(self, event: str, progress: Progress) -> None:
        for fn in self.callbacks.get(event, ()):
            if fn(progress) is True:
                self._stop.set()

    def _optimizer(self, params):
        if self.cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.cfg.lr, momentum=self.cfg.momentum)
        # Fused Adam updates each parameter in one kernel: an epoch measured 15-20% faster on the CPU
        # than the default (foreach), same arithmetic. Where a build cannot fuse, the default is used.
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=self.cfg.lr, fused=True)
        except (RuntimeError, TypeError):
            return torch.optim.Adam(params, lr=self.cfg.lr)

    def run(self) -> TrainResult:
        sharing = CoreSharing() if self.share_cores and self.device.type == "cpu" else None
        try:
            return self._train(sharing)
        finally:
            if sharing is not None:
                sharing.restore()

    def _train(self, sharing: CoreSharing | None) -> TrainResult:
        cfg, model = self.cfg, self.model
        torch.manual_seed(cfg.seed)
        shuffle = torch.Generator().manual_seed(cfg.seed)
        stages = model.stages(cfg.epochs)
        n = len(self.x_train)
        steps = math.ceil(n / cfg.batch_size)
        total_steps = steps * sum(s.epochs for s in stages)
        amp = autocast_dtype(self.device)
        history: list[dict] = []
        global_step, samples, train_time = 0, 0, 0.0
        start = time.perf_counter()
        for stage_index, stage in enumerate(stages):
            optimizer = self._optimizer(stage.params)
            first_loss = None
            for epoch in range(1, stage.epochs + 1):
                if self._stop.is_set():
                    break
                model.train()
                sums: dict[str, torch.Tensor] = {}
                seen = 0
                perm = torch.randperm(n, generator=shuffle).to(self.device)
                t0 = time.perf_counter()
                for step in range(steps):
                    idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                    xb, yb = self.x_train[idx], self.y_train[idx]
                    with torch.autocast(self.device.type, dtype=amp, enabled=amp is not None):
                        parts = stage.loss_fn(xb, yb)
                    loss = parts["loss"]
                    value = self._check_diverged(loss, first_loss, stage, epoch, step)
                    first_loss = value if first_loss is None else first_loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    b = len(idx)
                    for k, v in parts.items():
                        sums[k] = sums.get(k, 0.0) + v.detach().float() * b
                    seen += b
                    global_step += 1
                    if sharing is not None:
                        sharing.check()
                    if self.callbacks.get("on_batch_end"):
                        now = time.perf_counter()
                        rate = (samples + seen) / max(train_time + now - t0, 1e-9)
                        self._fire("on_batch_end", self._progress(
                            "batch", stage, stage_index, epoch, step + 1, steps, global_step, total_steps,
                            rate, now - start, {k: float(v) / seen for k, v in sums.items()}))
                    if self._stop.is_set():
                        break
                train_time += time.perf_counter() - t0
                samples += seen
                progress = self._progress("epoch", stage, stage_index, epoch, step + 1, steps, global_step,
                                          total_steps, samples / max(train_time, 1e-9), 0.0,
                                          {k: float(v) / seen for k, v in sums.items()})
                progress.val = self.evaluate(stage.loss_fn, self.x_val, self.y_val)
                if stage.records_probe:
                    progress.probe = self._record_probe(f"{stage.name} {epoch}")
                progress.elapsed_s = time.perf_counter() - start
                history.append(progress.to_dict())
                self._fire("on_epoch_end", progress)
        # The last epoch of the model itself: stacked's random-init baseline (a stage that records
        # no probe) trains another network, whose losses must not be reported as this model's.
        own = [h for h in history if stages[h["stage_index"]].records_probe] or history
        final = {"train": own[-1]["train"] if own else {},
                 "val": own[-1]["val"] if own else {},
                 "test": self.evaluate(lambda x, y: model.loss(x), self.x_test, self.y_test)}
        model.eval()
        with torch.no_grad():
            metrics = model.final_metrics(self.x_test, self.y_test)
        return TrainResult(model=model, history=history, probe=self.probe, final=final, metrics=metrics,
                           seconds=time.perf_counter() - start, samples_per_s=samples / max(train_time, 1e-9),
                           stopped_early=self._stop.is_set())

    def _progress(self, event, stage, stage_index, epoch, step, steps, global_step, total_steps, rate,
                  elapsed, train) -> Progress:
        remaining = (total_steps - global_step) * self.cfg.batch_size / max(rate, 1e-9)
        return Progress(event=event, stage=stage.name, stage_index=stage_index, epoch=epoch,
                        epochs=stage.epochs, step=step, steps=steps, global_step=global_step,
                        total_steps=total_steps, samples_per_s=rate, elapsed_s=elapsed, eta_s=remaining,
                        train=train)

    def _check_diverged(self, loss: torch.Tensor, first: float | None, stage: Stage, epoch: int, step: int) -> float:
        """Raise DivergenceError on a NaN/inf loss, or one 100× above the stage's first batch
        (a learning rate that is far too high can blow the loss up without ever reaching NaN)."""
        value = loss.detach().float().item()
        exploded = first is not None and value > DIVERGENCE_FACTOR * max(first, 1e-3)
        if not math.isfinite(value) or exploded:
            raise DivergenceError(
                f"Training diverged (the loss became {value:.4g} in {stage.name}, epoch {epoch}, batch {step + 1}): "
                f"lower the learning rate (now {self.cfg.lr:g}; try {self.cfg.lr / 10:g})"
                + (", use Adam rather than SGD," if self.cfg.optimizer == "sgd" else "") + " or change the seed.")
        return value

    @torch.no_grad()
    def evaluate(self, loss_fn, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Mean of each loss part over (x, y), in evaluation mode (no corruption, VAE uses μ)."""
        was_training = self.model.training
        self.model.eval()
        sums: dict[str, float] = {}
        for i in range(0, len(x), EVAL_BATCH):
            parts = loss_fn(x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH])
            b = len(x[i:i + EVAL_BATCH])
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
        self.model.train(was_training)
        return {k: v / max(len(x), 1) for k, v in sums.items()}

    @torch.no_grad()
    def _record_probe(self, name: str) -> ProbeSnapshot:
        self.model.eval()
        codes = torch.cat([self.model.encode(self._probe_x[i:i + EVAL_BATCH]).float()
                           for i in range(0, len(self._probe_x), EVAL_BATCH)]).cpu().numpy()
        if codes.shape[1] > 2:
            if self.probe.projection is None:  # fitted once, so later epochs share the same axes
                mean = codes.mean(axis=0)
                _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
                self.probe.projection = (mean, vt[:2].T)
            mean, comps = self.probe.projection
            codes = (codes - mean) @ comps
        elif codes.shape[1] == 1:
            codes = np.concatenate([codes, np.zeros_like(codes)], axis=1)
        self.probe.snapshots.append(codes.astype(np.float32))
        self.probe.snapshot_names.append(name)
        return ProbeSnapshot(name, self.probe.snapshots[-1], self.probe.labels, self.probe.projection is not None)
