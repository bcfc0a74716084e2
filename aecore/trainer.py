"""A model-agnostic trainer: shuffled index slices over data held on the device, named callbacks.

`Trainer(model, data, cfg).run()` trains every `Stage` the model plans, then its `baseline` if it
has one, fires `on_batch_end` and `on_epoch_end` with a `Progress` snapshot, and returns a
`TrainResult`. Beside the loop, three small named parts: `ProbeRecorder` records the codes of a
fixed probe set of test digits after each epoch of the model's own stages (each epoch's `Progress`
carries them), `DivergenceGuard` raises `DivergenceError` with advice instead of handing back a
garbage model, and `aecore.device.CoreSharing` adjusts the threads when asked to share the cores.
A callback returning True, or `request_stop()`, ends training early and the partly trained model
is still returned.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from aecore.configs import TrainConfig
from aecore.device import CoreSharing, autocast_dtype, pick_device
from aecore.errors import DivergenceError
from aecore.models import Autoencoder, Baseline, Stage
from aecore.sampling import stratified_sample

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
    reconstruction: dict[str, float] = field(default_factory=dict)  # agreement of decodes with originals (runs)


Callback = Callable[[Progress], "bool | None"]


def as_tensor_images(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 784) float32 in [0, 1] on `device`."""
    # A copy: datasets are shared read-only between sessions, and torch wants writable memory.
    pixels = int(np.prod(images.shape[1:]))  # not -1: an empty split (val_size=0) has no size to infer from
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).reshape(len(images), pixels)
    return x.to(device).float().div_(255.0)


def fixed_order(n: int, seed: int) -> torch.Tensor:
    """The one order of `n` training digits that every epoch keeps without shuffling, as a file read
    front to back: drawn once from `seed`, since the sources' files hold the classes mixed and the
    embedded sample holds them grouped (in its order a 'file-order' epoch ends on 360 nines)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


class ProbeRecorder:
    """Codes of a fixed probe set of test digits, recorded after each epoch of the model's own stages,
    as 2-D points: PCA-2 of larger codes, fitted on the first epoch so every epoch shares its axes."""

    def __init__(self, x_test: torch.Tensor, y_test: np.ndarray):
        rng = np.random.default_rng(0)  # the probe set is the same for every model on this dataset
        indices = np.sort(rng.permutation(len(x_test))[:PROBE_SIZE])
        self.record = ProbeRecord(indices=indices, labels=np.asarray(y_test)[indices])
        self.x = x_test[torch.from_numpy(indices).to(x_test.device)]  # (P, 784)

    @torch.no_grad()
    def __call__(self, model: Autoencoder, name: str) -> ProbeSnapshot:
        """Record the codes `model` gives the probe digits now, as snapshot `name`."""
        model.eval()
        codes = torch.cat([model.encode(self.x[i:i + EVAL_BATCH]).float()
                           for i in range(0, len(self.x), EVAL_BATCH)]).cpu().numpy()  # (P, D)
        record = self.record
        if codes.shape[1] > 2:
            if record.projection is None:
                mean = codes.mean(axis=0)
                _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
                record.projection = (mean, vt[:2].T)
            mean, comps = record.projection
            codes = (codes - mean) @ comps
        elif codes.shape[1] == 1:
            codes = np.concatenate([codes, np.zeros_like(codes)], axis=1)
        record.snapshots.append(codes.astype(np.float32))
        record.snapshot_names.append(name)
        return ProbeSnapshot(name, record.snapshots[-1], record.labels, record.projection is not None)


class DivergenceGuard:
    """Raises DivergenceError on a NaN/inf loss, or one DIVERGENCE_FACTOR times the stage's first
    batch loss (a learning rate far too high can blow the loss up without ever reaching NaN)."""

    def __init__(self, cfg: TrainConfig, stage: str):
        self.cfg, self.stage = cfg, stage
        self.first: float | None = None

    def check(self, loss: torch.Tensor, epoch: int, step: int) -> None:
        value = loss.detach().float().item()
        exploded = self.first is not None and value > DIVERGENCE_FACTOR * max(self.first, 1e-3)
        if not math.isfinite(value) or exploded:
            cfg = self.cfg
            raise DivergenceError(
                f"Training diverged (the loss became {value:.4g} in {self.stage}, epoch {epoch}, batch {step + 1}): "
                f"lower the learning rate (now {cfg.lr:g}; try {cfg.lr / 10:g})"
                + (", use Adam rather than SGD," if cfg.optimizer == "sgd" else "") + " or change the seed.")
        if self.first is None:
            self.first = value


class EarlyStopping:
    """Ends a stage after `stage.patience` epochs without a lower validation `stage.monitor`, and puts
    back the stage's parameters from its best epoch (the SdA tutorial reports the model of its best
    validation error)."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self.best = math.inf
        self.best_epoch = 0
        self.epochs = 0
        self.best_params: list[torch.Tensor] | None = None

    def epoch_ended(self, val: dict[str, float]) -> bool:
        """Note an epoch's validation figures; True when the stage should stop."""
        self.epochs += 1
        value = val.get(self.stage.monitor, math.inf)
        if value < self.best:
            self.best, self.best_epoch = value, self.epochs
            self.best_params = [p.detach().clone() for p in self.stage.params]
        return self.epochs - self.best_epoch >= self.stage.patience

    @torch.no_grad()
    def restore_best(self) -> None:
        if self.best_params is not None:
            for p, best in zip(self.stage.params, self.best_params):
                p.copy_(best)


@dataclass
class _EpochSums:
    """Loss parts summed over the batches of one epoch so far, weighted by batch size."""

    started: float  # time.perf_counter() at the epoch's start
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    seen: int = 0
    steps: int = 0

    def add(self, parts: dict[str, torch.Tensor], batch: int) -> None:
        for k, v in parts.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach().float() * batch
        self.seen += batch
        self.steps += 1

    def means(self) -> dict[str, float]:
        return {k: float(v) / self.seen for k, v in self.sums.items()}


class Trainer:
    """Trains the model's stages, then its baseline if it has one (`Autoencoder.baseline`).

    Read during a run (e.g. from a callback): `global_step`, `total_steps`, `history`, `probe`.
    """

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
        self.amp = autocast_dtype(self.device)  # bfloat16 autocast where it is native, else None
        self.model = model.to(self.device)
        self.callbacks: dict[str, list[Callback]] = defaultdict(list, callbacks or {})
        self._stop = threading.Event()
        self.x_train, self.y_train = self._tensors(data.x_train, data.y_train)
        self.x_val, self.y_val = self._tensors(data.x_val, data.y_val)
        self.x_test, self.y_test = self._tensors(data.x_test, data.y_test)
        self.record_probe = ProbeRecorder(self.x_test, data.y_test)
        self.steps = math.ceil(len(self.x_train) / cfg.batch_size)  # batches per epoch
        self.history: list[dict] = []  # one Progress dict per epoch, every stage
        self.global_step = self.total_steps = 0
        self._samples, self._train_time, self._start = 0, 0.0, 0.0
        self._shuffle = torch.Generator()  # seeded by `run`

    @property
    def probe(self) -> ProbeRecord:
        return self.record_probe.record

    def _tensors(self, images, labels):
        labels = torch.tensor(np.asarray(labels), dtype=torch.int64, device=self.device)
        return as_tensor_images(images, self.device), labels

    def add_callback(self, event: str, fn: Callback) -> None:
        self.callbacks[event].append(fn)

    def request_stop(self) -> None:
        """Ask the loop to stop after the current batch; `run` then returns what was trained."""
        self._stop.set()

    def _fire(self, event: str, progress: Progress) -> None:
        for fn in self.callbacks.get(event, ()):
            if fn(progress) is True:
                self._stop.set()

    def _optimizer(self, params, lr: float | None = None):
        lr = self.cfg.lr if lr is None else lr
        if self.cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=self.cfg.momentum)
        if self.cfg.optimizer == "rmsprop":  # Keras's RMSprop: the same update, its defaults
            return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
        # Fused Adam, one kernel per parameter, same arithmetic (bench.time_to_quality); else the default
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError):
            return torch.optim.Adam(params, lr=lr)

    def run(self) -> TrainResult:
        """Train every stage of the model, then its baseline's; returns the result, also when stopped."""
        torch.manual_seed(self.cfg.seed)
        self._shuffle = torch.Generator().manual_seed(self.cfg.seed)
        own = self.model.stages(self.cfg.epochs)
        baseline = self.model.baseline(self.cfg.epochs)  # another network, trained after for comparison
        plan = own + (baseline.stages if baseline is not None else [])
        self.total_steps = sum(self._stage_steps(stage) * stage.epochs for stage in plan)
        self._start = time.perf_counter()
        with self._core_sharing() as sharing:
            for index, stage in enumerate(plan):
                self._train_stage(index, stage, sharing, own=index < len(own))
        return self._result(len(own), baseline)

    @contextmanager
    def _core_sharing(self) -> Iterator[CoreSharing | None]:
        sharing = CoreSharing() if self.share_cores and self.device.type == "cpu" else None
        try:
            yield sharing
        finally:
            if sharing is not None:
                sharing.restore()

    def _stage_pool(self, stage: Stage) -> torch.Tensor | None:
        """The training digits `stage` learns from: None for all, else its `examples` digits, the same
        seeded class-stratified sample in every stage that asks for as many (fine-tuning and its baseline)."""
        if not stage.examples or stage.examples >= len(self.x_train):
            return None
        picked = stratified_sample(self.y_train.cpu().numpy(), stage.examples, self.cfg.seed)
        return torch.as_tensor(picked, dtype=torch.int64, device=self.device)

    def _stage_steps(self, stage: Stage) -> int:
        """Batches in one epoch of `stage`."""
        if not stage.examples or stage.examples >= len(self.x_train):
            return self.steps
        return math.ceil(stage.examples / self.cfg.batch_size)

    def _train_stage(self, index: int, stage: Stage, sharing: CoreSharing | None, own: bool) -> None:
        optimizer = self._optimizer(stage.params, stage.lr)
        guard = DivergenceGuard(self.cfg, stage.name)
        stopper = EarlyStopping(stage) if stage.patience else None
        pool = self._stage_pool(stage)
        size, steps = (len(self.x_train) if pool is None else len(pool)), self._stage_steps(stage)
        for epoch in range(1, stage.epochs + 1):
            if self._stop.is_set():
                break
            sums = _EpochSums(started=time.perf_counter())
            self.model.train()
            perm = (torch.randperm(size, generator=self._shuffle) if self.cfg.shuffle
                    else fixed_order(size, self.cfg.seed)).to(self.device)
            if pool is not None:
                perm = pool[perm]
            for step in range(steps):
                idx = perm[step * self.cfg.batch_size:(step + 1) * self.cfg.batch_size]
                sums.add(self._step(stage, optimizer, guard, idx, epoch, step), len(idx))
                self.global_step += 1
                if sharing is not None:
                    sharing.check()
                if self.callbacks.get("on_batch_end"):
                    self._fire("on_batch_end", self._batch_progress(index, stage, epoch, sums))
                if self._stop.is_set():
                    break
            self._end_epoch(index, stage, epoch, sums, own)
            if stopper is not None and stopper.epoch_ended(self.history[-1]["val"]):
                self.total_steps -= steps * (stage.epochs - epoch)  # the epochs it will not train
                break
        if stopper is not None:
            stopper.restore_best()

    def _step(self, stage: Stage, optimizer, guard: DivergenceGuard, idx: torch.Tensor, epoch: int,
              step: int) -> dict[str, torch.Tensor]:
        """One optimisation step on the batch `idx`; returns its loss parts."""
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            parts = stage.loss_fn(self.x_train[idx], self.y_train[idx])
        guard.check(parts["loss"], epoch, step)
        optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optimizer.step()
        return parts

    def _batch_progress(self, index: int, stage: Stage, epoch: int, sums: _EpochSums) -> Progress:
        now = time.perf_counter()
        rate = (self._samples + sums.seen) / max(self._train_time + now - sums.started, 1e-9)
        return self._progress("batch", index, stage, epoch, sums.steps, rate, now - self._start, sums.means())

    def _end_epoch(self, index: int, stage: Stage, epoch: int, sums: _EpochSums, own: bool) -> None:
        self._train_time += time.perf_counter() - sums.started
        self._samples += sums.seen
        progress = self._progress("epoch", index, stage, epoch, sums.steps,
                                  self._samples / max(self._train_time, 1e-9), 0.0, sums.means())
        progress.val = self.evaluate(stage.loss_fn, self.x_val, self.y_val)
        if own:  # the baseline is another network: its codes are not this model's
            progress.probe = self.record_probe(self.model, f"{stage.name} {epoch}")
        progress.elapsed_s = time.perf_counter() - self._start
        self.history.append(progress.to_dict())
        self._fire("on_epoch_end", progress)

    def _progress(self, event: str, index: int, stage: Stage, epoch: int, step: int, rate: float,
                  elapsed: float, train: dict[str, float]) -> Progress:
        remaining = (self.total_steps - self.global_step) * self.cfg.batch_size / max(rate, 1e-9)
        return Progress(event=event, stage=stage.name, stage_index=index, epoch=epoch, epochs=stage.epochs,
                        step=step, steps=self._stage_steps(stage), global_step=self.global_step,
                        total_steps=self.total_steps,
                        samples_per_s=rate, elapsed_s=elapsed, eta_s=remaining, train=train)

    def _result(self, own_stages: int, baseline: Baseline | None) -> TrainResult:
        model = self.model
        # The last epoch of the model itself: a baseline's losses must not be reported as this model's.
        own = [h for h in self.history if h["stage_index"] < own_stages] or self.history
        final = {"train": own[-1]["train"] if own else {},
                 "val": own[-1]["val"] if own else {},
                 "test": self.evaluate(lambda x, y: model.loss(x), self.x_test, self.y_test)}
        model.eval()
        with torch.no_grad():
            metrics = model.final_metrics(self.x_test, self.y_test)
            if baseline is not None:
                metrics.update(baseline.metrics(self.x_test, self.y_test))
        return TrainResult(model=model, history=self.history, probe=self.probe, final=final, metrics=metrics,
                           seconds=time.perf_counter() - self._start,
                           samples_per_s=self._samples / max(self._train_time, 1e-9),
                           stopped_early=self._stop.is_set())

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
