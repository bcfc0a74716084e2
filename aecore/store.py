"""The model store: trained models on disk, content-addressed by `RunSpec.key(fingerprint)`.

Each entry is a directory `<root>/<key>/` with `weights.safetensors` and `meta.json` (spec, dataset,
history, probe snapshots, metrics, library versions, creation time, and the SHA-256 of the weights).
Entries are written into a temporary directory and renamed into place under a lock file shared by
every process, so a crash never leaves half a model under a key and concurrent saves of one key
never fail (a key names its content: an entry that appeared meanwhile is the same model). Loading
checks the whole entry; a corrupt one is reported with one warning and treated as missing (the
caller retrains). Nothing is ever unpickled: weights load through safetensors and metadata through
json. Temporary directories of saves killed midway are removed when a store is opened.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from aecore.errors import AecoreError, StoreError
from aecore.files import data_home, file_hash
from aecore.spec import STORE_FORMAT, RunSpec, check_key

if TYPE_CHECKING:  # torch, safetensors and the models are imported where weights are read or written:
    import torch  # listing the store and reading its metadata never needs them

    from aecore.models import Autoencoder

WEIGHTS = "weights.safetensors"
META = "meta.json"
LOCK = ".lock"  # the lock file that orders renames into and out of the store, across processes
LOCK_TIMEOUT_S = 60.0  # a rename takes milliseconds; a lock held this long belongs to a hung process
STALE_TEMPORARY_S = 15 * 60  # a save writes its temporary directory in seconds; older ones were killed


def default_root() -> Path:
    """The store's folder: ``models/`` in `aecore.files.data_home()`."""
    return data_home() / "models"


@dataclass
class StoredModel:
    key: str
    model: Autoencoder
    meta: dict

    @property
    def spec(self) -> RunSpec:
        return RunSpec.from_dict(self.meta["spec"])



def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def library_versions() -> dict[str, str]:
    import numpy
    import safetensors
    import torch
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "safetensors": safetensors.__version__}


class _Corrupt(Exception):
    """An entry that fails to load (the message says why)."""


def _first_line(e: BaseException) -> str:
    text = (str(e).strip() or type(e).__name__).splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def _meta_problem(meta: object, key: str) -> str | None:
    """Why parsed metadata does not describe the entry `key`, or None."""
    if not isinstance(meta, dict):
        return "metadata is not a JSON object"
    if meta.get("key") != key:
        return "metadata is for another key"
    if meta.get("format") != STORE_FORMAT:
        return "metadata is of another store format"
    try:
        RunSpec.from_dict(meta.get("spec"))  # type: ignore[arg-type]  # a missing spec raises, caught here
    except (AecoreError, TypeError, ValueError, RecursionError) as e:
        return f"bad spec: {_first_line(e)}"
    if isinstance(meta.get("created"), bool) or not isinstance(meta.get("created"), (int, float)):
        return "metadata has no creation time"
    return None


def _listing_problem(meta: dict) -> str | None:
    """Why metadata cannot be listed: pages and the CLI read a run's description unguarded."""
    dataset, final = meta.get("dataset"), meta.get("final")
    if not (isinstance(dataset, dict) and isinstance(dataset.get("name"), str)):
        return "metadata has no dataset name"
    if not (isinstance(final, dict) and all(isinstance(final.get(s), dict) for s in ("train", "val", "test"))):
        return "metadata has no final losses"
    if not isinstance(meta.get("history"), list):
        return "metadata has no training history"
    return None


class ModelStore:
    """Save, load, list and delete trained models under `root` (default `$AECORE_HOME/models`)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self._lock = threading.Lock()  # guards the metadata cache
        self._meta_cache: dict[str, tuple[tuple[int, int], dict | None, str | None]] = {}
        try:
            self.clean_temporary(STALE_TEMPORARY_S)
        except OSError:
            pass  # an unreadable root fails later, where the caller can say so

    def _rename_lock(self) -> FileLock:
        """The cross-process lock held while an entry is renamed into or out of place."""
        return FileLock(self.root / LOCK, timeout=LOCK_TIMEOUT_S)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def save(self, key: str, model: Autoencoder, meta: dict) -> Path:
        """Write an entry atomically; raises StoreError if the directory is not writable or full."""
        from safetensors.torch import save as safetensors_bytes

        final = self.path(key)
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        existed = final.exists()  # replaced on purpose (--retrain, a corrupt entry), unlike one appearing meanwhile
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.root))
            try:
                # The bytes are written here, not by safetensors' save_file: on a full device that raises
                # its own SafetensorError, not an OSError, while Python's file I/O raises ENOSPC.
                with open(tmp / WEIGHTS, "wb") as f:
                    f.write(safetensors_bytes(state))
                    f.flush()
                    os.fsync(f.fileno())
                full_meta = {**meta, "key": key, "format": STORE_FORMAT, "created": time.time(),
                             "versions": library_versions(), "weights_sha256": file_hash(tmp / WEIGHTS)}
                with open(tmp / META, "w") as f:
                    json.dump(full_meta, f)
                    f.flush()
                    os.fsync(f.fileno())
                with self._rename_lock():
                    if final.exists() and not existed:
                        pass  # another process saved this key meanwhile: the same model, so done
                    else:
                        if final.exists():  # replacing: move the old entry out of the way first
                            trash = self.root / f".trash-{key}-{uuid.uuid4().hex[:8]}"
                            os.rename(final, trash)
                            shutil.rmtree(trash, ignore_errors=True)
                        os.rename(tmp, final)
                _fsync_dir(self.root)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        except Timeout:
            raise StoreError(f"cannot save the model in {self.root}: another process holds {LOCK}") from None
        except OSError as e:
            raise StoreError(f"cannot save the model in {self.root}: {e.strerror or e}") from None
        return final

    def read_meta(self, key: str) -> dict | None:
        """The entry's metadata if it parses and names its key, else None.

        Parsed metadata is remembered per file version (mtime, size): a meta.json carries the probe
        snapshots (~0.5 MB), and the dashboard lists models on every rerun. The returned dict is
        shared: treat it as read-only.
        """
        return self._meta(key)[0]

    def _meta(self, key: str) -> tuple[dict | None, str | None]:
        """(metadata, None), (None, None) for a missing entry, or (None, why it is corrupt)."""
        path = self.path(key) / META
        try:
            st = os.stat(path)
        except OSError:
            return None, None
        version = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._meta_cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        try:
            with open(path) as f:
                meta = json.load(f)
            problem = _meta_problem(meta, key)
        except FileNotFoundError:
            return None, None  # deleted or being replaced meanwhile: missing, not corrupt
        except (OSError, ValueError, RecursionError, MemoryError) as e:  # RecursionError: deeply nested JSON
            meta, problem = None, f"unreadable metadata: {_first_line(e)}"
        if problem is not None:
            meta = None
        with self._lock:
            self._meta_cache[key] = (version, meta, problem)
        return meta, problem

    def load(self, key: str, device: str | torch.device = "cpu") -> StoredModel | None:
        """The stored model, or None if missing. A corrupt entry warns and counts as missing."""
        entry = self.path(key)
        if not entry.is_dir():
            return None
        try:
            return self._load(key, device)
        except _Corrupt:
            pass
        # A save may have been swapping this entry while it was read: read again once no rename is
        # in progress, so a reader never reports a half-moved entry as corrupt.
        try:
            with self._rename_lock():
                if not entry.is_dir():
                    return None
                return self._load(key, device)
        except _Corrupt as e:
            warnings.warn(f"model store entry {key} is corrupt ({e}); it will be retrained", stacklevel=2)
            return None
        except Timeout:
            return None

    def _load(self, key: str, device: str | torch.device) -> StoredModel | None:
        from safetensors.torch import load_file

        from aecore.models import build_model

        entry = self.path(key)
        try:
            meta, problem = self._meta(key)
            if meta is None:
                raise ValueError(problem or "metadata is missing")
            if file_hash(entry / WEIGHTS) != meta.get("weights_sha256"):
                raise ValueError("weights do not match their checksum")
            spec = RunSpec.from_dict(meta["spec"])
            model = build_model(spec.family, spec.model)
            state = load_file(str(entry / WEIGHTS), device="cpu")
            model.load_state_dict(state, strict=True)
        except Exception as e:  # any parse error of untrusted files (SafetensorError, RecursionError, ...)
            raise _Corrupt(_first_line(e)) from None
        model.eval()
        return StoredModel(key=key, model=model.to(device), meta=meta)

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        out = []
        for p in self.root.iterdir():
            try:
                out.append(check_key(p.name))
            except AecoreError:
                continue  # temporary or foreign directories
        return sorted(out)

    def list(self) -> list[dict]:
        """Metadata of every readable entry, newest first (no weights are loaded).

        An entry whose metadata is corrupt is left out with one warning per version of its file.
        """
        metas = []
        for key in self.keys():
            with self._lock:
                seen = self._meta_cache.get(key)
            meta, problem = self._meta(key)
            problem = problem if meta is None else _listing_problem(meta)
            if problem is None and meta is not None:
                metas.append(meta)
            elif problem is not None and self._meta_cache.get(key) is not seen:  # a new version of the file
                warnings.warn(f"model store entry {key} is corrupt ({problem}); it is left out", stacklevel=2)
        return sorted(metas, key=lambda m: m["created"], reverse=True)

    def delete(self, key: str) -> bool:
        entry = self.path(key)
        if not entry.exists():
            return False
        try:
            shutil.rmtree(entry)
        except OSError as e:
            raise StoreError(f"cannot delete {key}: {e.strerror or e}") from None
        return True

    def clean_temporary(self, older_than_s: float = 3600) -> int:
        """Remove leftovers of crashed saves (temporary directories older than `older_than_s`)."""
        n = 0
        if not self.root.is_dir():
            return 0
        for p in self.root.iterdir():
            if p.name.startswith((".tmp-", ".trash-")) and time.time() - p.stat().st_mtime > older_than_s:
                shutil.rmtree(p, ignore_errors=True)
                n += 1
        return n
