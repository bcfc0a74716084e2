"""The textbook PyTorch training loop, written out, as the baseline aecore's Trainer is compared with.

It is the loop of pytorch/examples (mnist, vae): the images as a float tensor in a `TensorDataset`,
a shuffling `DataLoader` with batch size 128, Adam at 1e-3, one optimisation step per batch. The
objective is the model's own `loss(x)["loss"]`, so both loops minimise exactly the same thing. (The
VAE example sums its loss over the batch where `loss` takes the mean; Adam's steps do not depend on
the scale of the loss, apart from its tiny epsilon, so the two are the same optimisation.)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from bench.common import Stopwatch

Evaluate = Callable[[torch.nn.Module], dict[str, float]]


@dataclass
class Checkpoint:
    epochs: float  # epochs done, fractional between epoch ends
    seconds: float  # training wall time so far, evaluation excluded
    cpu_seconds: float  # the same on the process's CPU clock
    samples: int  # training samples processed so far
    parts: dict[str, float]  # what `evaluate` returned


@dataclass
class LoopResult:
    seconds: float  # training wall time, evaluation at checkpoints excluded
    cpu_seconds: float  # the same on the process's CPU clock
    samples: int
    checkpoints: list[Checkpoint] = field(default_factory=list)

    @property
    def samples_per_s(self) -> float:
        return self.samples / max(self.seconds, 1e-9)


def checkpoint_steps(steps: int, per_epoch: int) -> set[int]:
    """The 1-based batch numbers after which to evaluate, `per_epoch` times an epoch, the last one last."""
    if per_epoch <= 0:
        return set()
    return {max(1, round(steps * k / per_epoch)) for k in range(1, per_epoch + 1)}


def train_textbook(model: torch.nn.Module, images: np.ndarray, *, epochs: int, batch_size: int = 128,
                   lr: float = 1e-3, seed: int = 0, evaluate: Evaluate | None = None,
                   evals_per_epoch: int = 0) -> LoopResult:
    """Train `model` in place on uint8 `images` (N, 28, 28) with the textbook loop.

    Parameters
    ----------
    epochs, batch_size, lr
        As in pytorch/examples: the defaults are theirs.
    seed
        Seeds the shuffling (and any sampling inside the loss).
    evaluate : callable, optional
        ``evaluate(model) -> dict``, called `evals_per_epoch` times an epoch (the last at each epoch
        end) with the stopwatch paused, so evaluation never counts as training time.

    Returns
    -------
    LoopResult
        Training seconds, wall and CPU (including turning the images into a float tensor), samples,
        checkpoints.
    """
    torch.manual_seed(seed)
    clock = Stopwatch().start()
    x = torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0)
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    marks = checkpoint_steps(len(loader), evals_per_epoch if evaluate is not None else 0)
    result = LoopResult(seconds=0.0, cpu_seconds=0.0, samples=0)
    for epoch in range(epochs):
        model.train()
        for step, (xb,) in enumerate(loader, start=1):
            loss = model.loss(xb)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            result.samples += len(xb)
            if step in marks:
                seconds, cpu_seconds = clock.elapsed, clock.cpu
                with clock.paused():
                    result.checkpoints.append(Checkpoint(epoch + step / len(loader), seconds, cpu_seconds,
                                                         result.samples, evaluate(model)))
    result.seconds, result.cpu_seconds = clock.elapsed, clock.cpu
    return result
