"""Running a model over numpy arrays: batching, device placement and evaluation mode.

`aecore.metrics` and `aecore.latent` run trained models over many images or codes. Both need the same
three things, kept here so they are done one way: find the model's device, put the model in
evaluation mode without gradients, and feed it fixed-size batches of float32 tensors.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from aecore.device import SMALL_BATCH, single_threaded
from aecore.models.base import IMAGE_SIDE, INPUT_DIM


def model_device(model: nn.Module) -> torch.device:
    """The device holding the model's parameters (CPU for a parameter-free model)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with the model in eval mode and no autograd, then restore its previous mode.

    Restoring matters when a training callback previews reconstructions mid-run: the trainer
    expects to find its model still in training mode afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def flat_images(images: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """View images of shape (N, 28, 28) or (N, 784) as (N, 784), without converting values."""
    shape = tuple(images.shape)
    if len(shape) == 3 and shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return images.reshape(shape[0], INPUT_DIM)
    if len(shape) == 2 and shape[1] == INPUT_DIM:
        return images
    raise ValueError(f"expected images of shape (N, 28, 28) or (N, 784), got {shape}")


def to_unit_float(batch: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A float32 tensor on `device`; uint8 pixels are divided by 255, floats are taken as [0, 1]."""
    # Shared dataset arrays are read-only, which torch warns about; a batch-sized copy is cheap.
    tensor = batch if isinstance(batch, torch.Tensor) else torch.from_numpy(np.array(batch, copy=True))
    if tensor.dtype == torch.uint8:
        return tensor.to(device=device, dtype=torch.float32) / 255.0
    return tensor.to(device=device, dtype=torch.float32)


def map_batches(
    fn: Callable[[torch.Tensor], torch.Tensor],
    rows: np.ndarray | torch.Tensor,
    device: torch.device,
    batch_size: int,
) -> np.ndarray:
    """Apply `fn` to consecutive batches of `rows` and stack the outputs as one float32 array.

    Rows are converted batch by batch so a 70 000-image uint8 set never exists as one float copy.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    with single_threaded(len(rows) < SMALL_BATCH):
        outputs = [
            fn(to_unit_float(rows[start:start + batch_size], device)).detach().cpu().numpy()
            for start in range(0, len(rows), batch_size)
        ]
    if not outputs:
        raise ValueError("no rows to process")
    return np.concatenate(outputs).astype(np.float32, copy=False)
