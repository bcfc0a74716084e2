"""Range checks shared by every config dataclass.

Settings arrive from widgets, URL query strings, the CLI and JSON files, so the configs check
themselves in `__post_init__`: out-of-range values are refused by `aecore`, not only by the widgets.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from aecore.errors import ConfigError

MAX_LAYER_WIDTH = 8192  # wider than any sensible MNIST model; guards memory from a URL typo
MAX_LAYERS = 6
MAX_EPOCHS = 500


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    whole_float = isinstance(value, float) and value.is_integer()
    if isinstance(value, bool) or not isinstance(value, (int,)) and not whole_float:
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def check_float(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        bound = f"above {lo}" if lo_open else f"at least {lo}"
        raise ConfigError(f"{name} must be {bound} and at most {hi}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_widths(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_LAYERS:
        raise ConfigError(f"{name} must be a list of 1 to {MAX_LAYERS} layer sizes, got {value!r}")
    return tuple(check_int(f"{name} layer size", v, 1, MAX_LAYER_WIDTH) for v in value)


def set_field(obj: Any, name: str, value: Any) -> None:
    """Normalise a field of a frozen dataclass inside `__post_init__` (lists from JSON -> tuples)."""
    object.__setattr__(obj, name, value)
