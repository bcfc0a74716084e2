"""Reading and writing IDX files, the format the MNIST family is published in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order. Only the unsigned-byte type (0x08) is
supported, which is all MNIST-like data uses. Files may be gzipped; that is detected from the
content, not the name. Every problem with a file is a `DataError` whose message starts with the
file name, so the dashboard can show it as one sentence.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from aecore.errors import DataError
from aecore.files import write_atomic

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08
_MAX_NDIM = 4
# A header is only four bytes plus the dims, so a damaged one can claim any size. Refuse anything
# beyond 2**30 values (1 GiB) up front: MNIST holds 47 million, EMNIST's largest split 547 million,
# and a gzip file of a few MB can decompress to gigabytes.
_MAX_VALUES = 2**30
_CHUNK = 1 << 20

_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
               0x0D: "float", 0x0E: "double"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes, gzipped or raw.

    Parameters
    ----------
    path : str or PathLike
        The file. Gzip compression is detected from its first two bytes.

    Returns
    -------
    np.ndarray
        A writable uint8 array with the shape the header declares.

    Raises
    ------
    DataError
        If the file is missing, empty, truncated, has trailing bytes, an unsupported type or
        number of dimensions, or is a corrupt gzip stream.
    """
    path = Path(path)
    name = path.name
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read_stream(stream, name, size=None)
            return _read_stream(raw, name, size=os.fstat(raw.fileno()).st_size)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{name}: file not found ({path})") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, not an IDX file") from None
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a gzip stream cut short raises EOFError.
        reason = str(exc) or type(exc).__name__
        raise DataError(f"{name}: corrupt or unreadable file ({reason})") from exc


def _read_stream(stream, name: str, size: int | None) -> np.ndarray:
    """Parse an IDX stream; `size` is the raw file length, or None when it is unknown (gzip)."""
    head = _read_exactly(stream, 4)
    if not head:
        raise _error(name, "empty file" if size is not None else "empty file (after decompression)")
    if len(head) < 4:
        raise _error(name, f"truncated header: expected 4 magic bytes, found {len(head)}")
    if head[0] != 0 or head[1] != 0:
        raise _error(name, f"not an IDX file (magic bytes {head.hex()} should start with 0000)")
    dtype_code, ndim = head[2], head[3]
    if dtype_code != _UBYTE:
        kind = _TYPE_NAMES.get(dtype_code, "unknown type")
        raise _error(name, f"unsupported IDX data type 0x{dtype_code:02x} ({kind}); only 0x08 "
                           "(unsigned byte) is supported")
    if not 1 <= ndim <= _MAX_NDIM:
        raise _error(name, f"unsupported number of dimensions {ndim} (expected 1 to {_MAX_NDIM})")

    dims_raw = _read_exactly(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise _error(name, f"truncated header: expected {4 * ndim} bytes of dimensions, "
                           f"found {len(dims_raw)}")
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    expected = 1
    for d in shape:
        expected *= d
    if expected > _MAX_VALUES:
        raise _error(name, f"header claims shape {shape} ({expected:,} values), more than the "
                           f"{_MAX_VALUES:,} values a file may hold here")

    header_len = 4 + 4 * ndim
    if size is not None:
        # Raw file: the length is known, so check it before allocating anything.
        found = size - header_len
        if found < expected:
            raise _error(name, f"truncated: expected {expected} bytes of data, found {found}")
        if found > expected:
            raise _error(name, f"{found - expected} trailing bytes after the "
                               f"{expected} bytes of data")
    data = _read_exactly(stream, expected)
    if len(data) < expected:
        raise _error(name, f"truncated: expected {expected} bytes of data, found {len(data)}")
    extra = _count_rest(stream)
    if extra:
        raise _error(name, f"{extra} trailing bytes after the {expected} bytes of data")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _read_exactly(stream, n: int) -> bytearray:
    """Read up to n bytes in chunks, so a lying header cannot make us allocate n bytes at once."""
    out = bytearray()
    while len(out) < n:
        chunk = stream.read(min(_CHUNK, n - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _count_rest(stream) -> int:
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
    return total


def _error(name: str, what: str) -> DataError:
    return DataError(f"{name}: {what}")


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, gzipped when the name ends in ``.gz``.

    The file is written to a temporary name and moved into place, so a reader never sees a
    half-written file.

    Parameters
    ----------
    path : str or PathLike
        Destination file.
    array : np.ndarray
        1 to 4 dimensions; uint8, or any integer array whose values all lie in 0..255.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    DataError
        If the array cannot be stored as IDX unsigned bytes, or the file cannot be written.
    """
    path = Path(path)
    arr = np.asarray(array)
    if not 1 <= arr.ndim <= _MAX_NDIM:
        raise DataError(f"{path.name}: cannot write a {arr.ndim}-D array as IDX "
                        f"(1 to {_MAX_NDIM} dimensions)")
    if any(d >= 2**32 for d in arr.shape):
        raise DataError(f"{path.name}: dimension too large for IDX: {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) or (
            arr.size and (arr.min() < 0 or arr.max() > 255)
        ):
            raise DataError(f"{path.name}: IDX files here hold unsigned bytes; got {arr.dtype} "
                            "data that does not fit in 0..255")
        arr = arr.astype(np.uint8)

    payload = (bytes([0, 0, _UBYTE, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
               + np.ascontiguousarray(arr).tobytes())
    if path.name.endswith(".gz"):
        # mtime=0 keeps the output byte-identical across runs, so its hash is stable.
        payload = gzip.compress(payload, mtime=0)
    try:
        write_atomic(path, lambda out: out.write(payload))
    except OSError as exc:
        raise DataError(f"{path.name}: cannot write file ({exc})") from exc
    return path
