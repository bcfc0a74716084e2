"""File helpers shared by the datasets and the model store: where aecore keeps its files, a file's
hash, and writing a file so that a reader never sees half of it."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def data_home() -> Path:
    """Return the folder that holds downloaded data, caches and the model store.

    ``$AECORE_HOME`` if set, else ``~/.cache/aecore``. Datasets live under ``data/<name>/``, models
    under ``models/<key>/``.
    """
    env = os.environ.get("AECORE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aecore"


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at `path` under a `hashlib` algorithm name, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` by calling `write` on a temporary file beside it, then renaming that into place.

    A reader sees the old file or the whole new one; nothing is left behind on failure. Raises what
    writing raises (OSError for a full or read-only folder).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a data file should be as readable as any
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
