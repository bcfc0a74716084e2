"""The project's own exception types.

Everything that a user can cause (bad data, bad settings, a diverging run, an unreadable image)
raises a subclass of `AecoreError`, so the CLI and the dashboard can show one sentence instead of a
traceback, and tests can assert that arbitrary input never fails with anything else.
"""


class AecoreError(Exception):
    """Base class of every error a user's input or environment can cause."""


class ConfigError(AecoreError, ValueError):
    """A setting is out of range or unknown (model family, hidden size, learning rate, ...)."""


class DataError(AecoreError):
    """A dataset file is missing, malformed, or failed its checksum."""


class DivergenceError(AecoreError):
    """Training produced a NaN or infinite loss."""


class ImageError(AecoreError):
    """An uploaded or drawn image cannot be read or normalized."""


class StoreError(AecoreError):
    """The model store cannot be read or written (read-only directory, full disk, ...)."""
