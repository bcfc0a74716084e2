"""A user's own symbols (a star, a letter) beside a model's digits: how unusual the model finds them,
and a short fine-tune that includes them.

`error_percentiles` places each symbol's reconstruction error among the test digits' errors: a symbol
at the 99th percentile is rebuilt worse than 99% of the digits the model was made for;
`isolation_percentiles` says in the same terms how far from every digit its code lies. `fine_tune`
trains a copy of a stored model for a few more epochs on training digits plus the symbols, repeated
so that they make up `symbol_share` of the fine-tune set, and never touches the model it was given
(the dashboard shares loaded models between sessions).
"""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from aecore.configs import TrainConfig
from aecore.data import Dataset
from aecore.errors import ConfigError
from aecore.spec import KEY_LENGTH

if TYPE_CHECKING:
    from aecore.models import Autoencoder
    from aecore.trainer import Trainer, TrainResult

MIN_SYMBOLS, MAX_SYMBOLS = 10, 30  # examples a user gives of a new symbol
FINE_TUNE_EPOCHS = 3
FINE_TUNE_DIGITS = 2000  # training digits in the fine-tune set, a seeded sample: a few seconds an epoch on a CPU
SYMBOL_SHARE = 0.1  # of the fine-tune set: 20 examples among 3,600 digits would be 0.6%, too few to learn
FINE_TUNE_FAMILIES = ("ae", "dae", "sparse", "contractive", "vae", "conv_vae")  # stacked ends as a classifier


def error_percentiles(errors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each of `errors` as a percentile (0-100) of `reference`: the share of reference errors below it,
    ties counted half."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if len(ref) == 0:
        raise ValueError("no reference errors to compare with")
    errors = np.asarray(errors, dtype=np.float64)
    below = np.searchsorted(ref, errors, side="left")
    not_above = np.searchsorted(ref, errors, side="right")
    return 100.0 * (below + not_above) / (2 * len(ref))


def isolation_percentiles(symbol_codes: np.ndarray, digit_codes: np.ndarray) -> np.ndarray:
    """How far apart from the digits each symbol lies in code space, as a percentile (0-100): its
    distance to the nearest digit's code among the digits' own distances to their nearest other digit.
    Percentiles, not distances, so that two models' codes (before and after a fine-tune) compare."""
    symbols = np.asarray(symbol_codes, dtype=np.float64)
    digits = np.asarray(digit_codes, dtype=np.float64)
    if len(digits) < 2:
        raise ValueError("need at least two digit codes")
    to_digits = _distances(symbols, digits).min(axis=1)  # (S,)
    among = _distances(digits, digits)
    np.fill_diagonal(among, np.inf)
    return error_percentiles(to_digits, among.min(axis=1))


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a ** 2).sum(axis=1)[:, None] - 2.0 * a @ b.T + (b ** 2).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def as_uint8_images(images: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28) in [0, 1] (as `mnist_normalize` gives them) as uint8, as datasets hold them."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ConfigError(f"expected symbol images of shape (N, 28, 28), got {images.shape}")
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def fine_tune_key(base_key: str, symbols: np.ndarray, cfg: TrainConfig, digits: int, share: float) -> str:
    """A name for the fine-tune of `base_key` with these symbols and settings, shaped like a store key
    (the same request from two tabs is one job)."""
    digest = hashlib.sha256()
    digest.update(f"{base_key}|{cfg}|{digits}|{share}|".encode())
    digest.update(as_uint8_images(symbols).tobytes())
    return digest.hexdigest()[:KEY_LENGTH]


def fine_tune_set(data: Dataset, symbols: np.ndarray, *, digits: int = FINE_TUNE_DIGITS,
                  share: float = SYMBOL_SHARE, seed: int = 0) -> Dataset:
    """`data` with its training split replaced by a seeded sample of `digits` training digits plus the
    symbols, repeated to make up about `share` of it (labelled with a new class, after the digits').
    Validation and test splits are kept, so the trainer's figures stay about digits."""
    if not 0.0 < share < 1.0:
        raise ConfigError(f"the symbols' share must be between 0 and 1, got {share}")
    pixels = as_uint8_images(symbols)
    if len(pixels) == 0:
        raise ConfigError("fine-tuning with symbols needs at least one symbol")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(data.x_train), min(digits, len(data.x_train)), replace=False))
    repeats = max(1, round(share / (1 - share) * len(keep) / len(pixels)))
    x_extra = np.tile(pixels, (repeats, 1, 1))
    y_extra = np.full(len(x_extra), len(data.class_names), dtype=np.int64)
    return Dataset(name=f"{data.name}+symbols", description=f"{len(keep)} training digits and "
                   f"{len(pixels)} symbols, each repeated {repeats} times",
                   x_train=np.concatenate([data.x_train[keep], x_extra]),
                   y_train=np.concatenate([data.y_train[keep], y_extra]),
                   x_val=data.x_val, y_val=data.y_val, x_test=data.x_test, y_test=data.y_test,
                   class_names=(*data.class_names, "symbol"), fingerprint="")


def fine_tune(model: Autoencoder, family: str, data: Dataset, symbols: np.ndarray, cfg: TrainConfig, *,
              digits: int = FINE_TUNE_DIGITS, share: float = SYMBOL_SHARE, device=None, callbacks=None,
              on_trainer: Callable[[Trainer], None] | None = None) -> TrainResult:
    """Train a copy of `model` (of `family`) for `cfg.epochs` more epochs on `fine_tune_set(data,
    symbols)`, from its weights, with `cfg`'s optimizer and seed; `model` itself is left as it was.

    Returns the trainer's `TrainResult`; its `model` is the fine-tuned copy, on the CPU in eval mode.
    `device`, `callbacks` and `on_trainer` as for `aecore.trainer.Trainer`; a stop keeps the epochs so far.
    """
    if family not in FINE_TUNE_FAMILIES:
        raise ConfigError(f"a {family} model cannot be fine-tuned with symbols: it ends as a classifier "
                          "of digits; pick an autoencoder trained on reconstruction")
    from aecore.trainer import Trainer

    tuned = copy.deepcopy(model)
    trainer = Trainer(tuned, fine_tune_set(data, symbols, digits=digits, share=share, seed=cfg.seed), cfg,
                      device=device, callbacks=callbacks, share_cores=True)
    if on_trainer is not None:
        on_trainer(trainer)
    result = trainer.run()
    result.model.cpu().eval()
    return result


def fine_tune_config(trained_with: TrainConfig, epochs: int = FINE_TUNE_EPOCHS) -> TrainConfig:
    """The model's own training settings, for `epochs` epochs: a fine-tune continues the same optimisation.
    Always shuffled: the symbols come last in the fine-tune set, and in file order they would be its last
    batches."""
    return replace(trained_with, epochs=epochs, shuffle=True)
