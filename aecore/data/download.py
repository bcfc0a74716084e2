"""Downloading dataset files from a list of mirrors, with checksums, through pooch.

`fetch_files` tries each mirror in turn for each file. pooch streams every download to a
temporary file in the destination folder and moves it to its final name only once the hash
matches, deleting it otherwise, so a partial or corrupt download never appears under the real
name. Everything a download can go wrong with becomes one `DataError` sentence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from aecore.errors import DataError
from aecore.files import file_hash

ProgressCallback = Callable[[str, int, int], None]

MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

# MD5s of the files the mirror serves, as torchvision publishes them (Debian re-gzips the same images,
# so its .gz files hash differently). pooch reads the "md5:" prefix; unprefixed values are SHA-256.
FASHION_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_MIRRORS: list[str] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]

_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def fetch_files(
    files: dict[str, str],
    mirrors: list[str],
    dest_dir: Path,
    progress: ProgressCallback | None = None,
    timeout: float = 20,
) -> Path:
    """Make sure every file is in `dest_dir` with the right checksum, downloading what is not.

    Parameters
    ----------
    files : dict[str, str]
        File name -> expected hash: SHA-256 hex, or pooch style ``"md5:<hex>"``.
    mirrors : list[str]
        Base URLs tried in order for each file; the file name is appended.
    dest_dir : Path
        Folder the files end up in; created if needed.
    progress : callable, optional
        Called as ``progress(filename, bytes_done, bytes_total)`` while downloading;
        ``bytes_total`` is 0 when the server does not say.
    timeout : float
        Seconds to wait for a connection or for the next bytes of a response.

    Returns
    -------
    Path
        `dest_dir`.

    Raises
    ------
    DataError
        If a file fails on every mirror (the message lists what each mirror did), the folder
        cannot be written, or a hash is malformed.
    """
    import pooch  # deferred: pooch pulls in requests, which the dashboard rarely needs
    import requests

    dest_dir = Path(dest_dir)
    if not mirrors:
        raise DataError("no download mirrors given")
    for name, known_hash in files.items():
        _check_hash_format(name, known_hash)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create download folder {dest_dir}: {exc}") from exc

    pooch_log = pooch.get_logger()
    old_level = pooch_log.level
    pooch_log.setLevel(logging.WARNING)  # progress goes through our callback, not pooch's log
    try:
        for name, known_hash in files.items():
            target = dest_dir / name
            if target.exists():
                if _hash_matches(target, known_hash):
                    continue
                # A stale or corrupt copy: remove it so nothing bad stays under the final name
                # if every mirror fails below.
                _remove(target)
            failures = []
            for base in mirrors:
                url = base.rstrip("/") + "/" + name
                bar = _ProgressBar(name, progress) if progress else False
                downloader = pooch.HTTPDownloader(timeout=timeout, progressbar=bar)
                try:
                    pooch.retrieve(url, known_hash=known_hash, fname=name, path=dest_dir,
                                   downloader=downloader)
                    break
                except _CallbackFailed as exc:
                    raise exc.error from None
                except requests.exceptions.RequestException as exc:
                    failures.append(f"{base} -> {_describe(exc)}")
                except ValueError:  # pooch's hash mismatch; the temporary file is already gone
                    failures.append(f"{base} -> checksum mismatch")
                except OSError as exc:  # a local problem (disk full, read-only): no mirror helps
                    raise DataError(f"cannot write {name} to {dest_dir}: {exc}") from exc
            else:
                raise DataError(f"could not download {name}: " + "; ".join(failures))
    finally:
        pooch_log.setLevel(old_level)
    return dest_dir


def _check_hash_format(name: str, known_hash: str) -> None:
    alg, _, digest = known_hash.rpartition(":")
    alg = alg or "sha256"
    length = _HEX_LENGTHS.get(alg)
    if length is None or not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", digest):
        raise DataError(f"{name}: malformed expected hash {known_hash!r}")


def _hash_matches(path: Path, known_hash: str) -> bool:
    alg, _, digest = known_hash.rpartition(":")
    return file_hash(path, alg or "sha256") == digest.lower()


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DataError(f"cannot replace corrupt file {path}: {exc}") from exc


def _describe(exc: Exception) -> str:
    """One short phrase for a requests failure, for the one-line error listing all mirrors."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection broken during download"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "could not connect"
    return type(exc).__name__


class _CallbackFailed(Exception):
    """Carries an exception raised by the user's progress callback past pooch and our retries."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class _ProgressBar:
    """The progress-bar object pooch's HTTPDownloader accepts, forwarding to a plain callback.

    pooch sets `total`, calls `update(chunk_size)` per chunk (the nominal size, so the sum can
    overshoot the real length), and at the end calls `reset()` then `update(total)`. Counts are
    clamped to `total` so the callback never sees more than 100%.
    """

    def __init__(self, filename: str, callback: ProgressCallback | None):
        self.filename = filename
        self.callback = callback
        self.total = 0
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        if self.total:
            self.done = min(self.done, self.total)
        if self.callback is not None:
            try:
                self.callback(self.filename, self.done, self.total)
            except Exception as exc:
                raise _CallbackFailed(exc) from exc

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass
