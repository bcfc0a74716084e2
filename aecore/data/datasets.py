"""The datasets the lab can train on, loaded into one immutable `Dataset` shape.

`load_dataset` knows three names: full MNIST (downloaded once into the data home), the 5,000-digit
MNIST sample that ships inside this package (the offline default), and Fashion-MNIST (from the data home,
Debian's dataset-fashion-mnist package, or a download). Any other name is a path to a folder of
IDX files or an ``.npz``. Every dataset comes out as uint8 images (N, 28, 28) and int64 labels,
with a validation split carved from train by a fixed seed, and a content fingerprint that the
model store can use to tell datasets apart. Loaded datasets are kept in a small thread-safe
in-process cache because every Streamlit session asks for the same data.
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecore.data.download import (
    FASHION_FILES,
    FASHION_MIRRORS,
    MNIST_FILES,
    MNIST_MIRRORS,
    ProgressCallback,
    fetch_files,
)
from aecore.data.idx import read_idx
from aecore.errors import DataError
from aecore.files import data_home, file_hash, write_atomic

DATASET_NAMES = ("mnist", "mnist-sample", "fashion-mnist")

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Bag", "Sneaker", "Ankle boot")

SYSTEM_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian: dataset-fashion-mnist
SAMPLE_FILE = Path(__file__).with_name("mnist_sample.npz")  # source and licence: mnist_sample.md
SAMPLE_TEST_SIZE = 1000  # of the 5,000 sample digits; the other 4,000 are train (+ val)
SPLIT_SEED = 0  # one seed for every split, so the same data always splits the same way
IMAGE_SHAPE = (28, 28)
MAX_CLASSES = 1000  # labels are class indices: 0..999 (a label of 10**12 would mean 10**12 class names)
MIN_TRAIN_IMAGES = 10  # a tenth of train is kept for validation, so fewer leave none
DECODED_CACHE = "decoded.npz"  # the IDX files decoded, beside them in the data home (see _read_idx_dir_cached)

_SPLITS = ("train", "val", "test")
# Standard IDX base names, per split and kind; `_find_idx` also accepts the ".idx3-ubyte"
# spelling (Kaggle's) and either with or without ".gz".
_IDX_BASES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """One dataset, split three ways; arrays are read-only because the cache shares them."""

    name: str  # "mnist", "mnist-sample", "fashion-mnist" or "custom:<fingerprint[:12]>"
    description: str  # plain words for the UI
    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) int64
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    fingerprint: str  # sha256 hex of all six arrays' shapes and bytes

    def __post_init__(self) -> None:
        for split in _SPLITS:
            x, y = self.split(split)
            if x.dtype != np.uint8 or x.shape[1:] != IMAGE_SHAPE:
                raise DataError(f"{self.name}: {split} images must be uint8 (N, 28, 28), "
                                f"got {x.dtype} {x.shape}")
            if y.dtype != np.int64 or y.shape != (len(x),):
                raise DataError(f"{self.name}: {split} labels must be int64 ({len(x)},), "
                                f"got {y.dtype} {y.shape}")
            # Sessions share one cached Dataset; an in-place edit in one would leak into all.
            x.flags.writeable = False
            y.flags.writeable = False

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(images, labels)`` of the split "train", "val" or "test"."""
        if name not in _SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {_SPLITS}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.x_train)}, val={len(self.x_val)}, "
                f"test={len(self.x_test)}, classes={len(self.class_names)}, "
                f"fingerprint={self.fingerprint[:12]})")


def full_mnist_on_disk(home: Path | None = None) -> bool:
    """Whether the four MNIST files are in ``<home>/data/mnist`` with their published checksums.

    Never touches the network. The hashes are remembered per file size and modification time,
    so asking again on every page load costs a few ``stat`` calls.
    """
    folder = _dataset_dir("mnist", home)
    return all(_file_verified(folder / name, known) for name, known in MNIST_FILES.items())


def default_dataset_name(home: Path | None = None) -> str:
    """Return "mnist" when full MNIST is on disk, else "mnist-sample" (always available offline)."""
    return "mnist" if full_mnist_on_disk(home) else "mnist-sample"


def load_dataset(
    name: str = "auto",
    *,
    home: Path | None = None,
    download: bool = False,
    progress: ProgressCallback | None = None,
    val_size: int | None = None,
) -> Dataset:
    """Load a dataset by name or path, split into train, validation and test.

    Parameters
    ----------
    name : str
        "auto" (full MNIST if on disk, else the sample), one of `DATASET_NAMES`, or a path to a
        folder of IDX files or an ``.npz`` holding ``x_train, y_train, x_test, y_test``.
    home : Path, optional
        Data home; defaults to `data_home()`.
    download : bool
        Fetch "mnist" / "fashion-mnist" when they are not on disk.
    progress : callable, optional
        ``progress(filename, bytes_done, bytes_total)`` during downloads.
    val_size : int, optional
        Images moved from train to validation; default 5,000 when train has at least 50,000
        images, else 10% of train.

    Returns
    -------
    Dataset
        The same object for repeated calls with the same arguments in this process.

    Raises
    ------
    DataError
        If the data is missing (with how to get it), malformed, or `val_size` does not fit.
    """
    home = Path(home).expanduser() if home is not None else data_home()
    if name == "auto":
        name = default_dataset_name(home)
    key: tuple
    if name in DATASET_NAMES:
        key = (name, val_size, str(home.resolve()))
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise DataError(f"unknown dataset {name!r}: not one of {', '.join(DATASET_NAMES)} "
                            "and no such file or folder")
        # The files' sizes and times are in the key so an edited file is not served stale.
        try:
            signature = _stat_signature(path)
        except OSError as exc:
            raise DataError(f"{path.name}: cannot read ({exc})") from exc
        key = (str(path.resolve()), val_size, str(home.resolve()), signature)
    return _cached(key, lambda: _load_uncached(name, home, download, progress, val_size))


# ---- in-process cache -------------------------------------------------------------------------

_CACHE_SIZE = 8
_cache: OrderedDict[tuple, Dataset] = OrderedDict()
_cache_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}


def _cached(key: tuple, load) -> Dataset:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    # One loader per key: a second session asking for the same data waits for the first
    # instead of parsing 55 MB again; different keys load in parallel.
    with key_lock:
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        dataset = load()
        with _cache_lock:
            _cache[key] = dataset
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
            _key_locks.pop(key, None)
    return dataset


def _clear_cache() -> None:
    """Forget every loaded dataset (for tests)."""
    with _cache_lock:
        _cache.clear()
        _verified.clear()


# ---- loaders ------------------------------------------------------------------------------------

def _load_uncached(name, home, download, progress, val_size) -> Dataset:
    if name == "mnist":
        return _load_mnist(home, download, progress, val_size)
    if name == "mnist-sample":
        return _load_sample(val_size)
    if name == "fashion-mnist":
        return _load_fashion(home, download, progress, val_size)
    return _load_path(Path(name).expanduser(), val_size)


def _load_mnist(home, download, progress, val_size) -> Dataset:
    folder = _dataset_dir("mnist", home)
    if not full_mnist_on_disk(home):
        if not download:
            missing = [n for n, h in MNIST_FILES.items() if not _file_verified(folder / n, h)]
            raise DataError(
                f"full MNIST is not on disk ({', '.join(missing)} missing or damaged in "
                f"{folder}); run `python -m aecore prepare --dataset mnist` to download it, "
                "or use 'mnist-sample', which works offline")
        fetch_files(MNIST_FILES, MNIST_MIRRORS, folder, progress=progress)
    x_train, y_train, x_test, y_test = _read_idx_dir_cached(folder, folder / DECODED_CACHE)
    return _assemble("mnist", "MNIST: 70,000 handwritten digits (the full dataset)",
                     x_train, y_train, x_test, y_test, DIGIT_NAMES, val_size)


def _load_fashion(home, download, progress, val_size) -> Dataset:
    own = _dataset_dir("fashion-mnist", home)
    for folder in (own, SYSTEM_FASHION_DIR):
        if _has_idx_set(folder):
            break
    else:
        if not download:
            raise DataError(
                f"Fashion-MNIST is not on disk (looked in {own} and {SYSTEM_FASHION_DIR}); run "
                "`python -m aecore prepare --dataset fashion-mnist` to download it, or install "
                "the Debian package dataset-fashion-mnist")
        folder = fetch_files(FASHION_FILES, FASHION_MIRRORS, own, progress=progress)
    x_train, y_train, x_test, y_test = _read_idx_dir_cached(folder, own / DECODED_CACHE)
    return _assemble("fashion-mnist",
                     "Fashion-MNIST: 70,000 Zalando clothing photos in 10 classes",
                     x_train, y_train, x_test, y_test, FASHION_NAMES, val_size)


def _load_sample(val_size) -> Dataset:
    x, y = _sample_arrays()
    # Sort by (label, random key) and take every fifth: exactly 1,000 test digits, stratified.
    test_idx = _stratified_pick(y, SAMPLE_TEST_SIZE, np.random.default_rng(SPLIT_SEED))
    train_mask = np.ones(len(y), dtype=bool)
    train_mask[test_idx] = False
    return _assemble("mnist-sample",
                     "MNIST sample: 5,000 real digits shipped with Latent Lab, the offline default",
                     x[train_mask], y[train_mask], x[test_idx], y[test_idx], DIGIT_NAMES, val_size)


def _load_path(path: Path, val_size) -> Dataset:
    if path.is_dir():
        x_train, y_train, x_test, y_test = _read_idx_dir(path)
        source = f"IDX files in {path}"
    elif path.suffix.lower() == ".npz":
        x_train, y_train, x_test, y_test = _read_npz(path)
        source = path.name
    else:
        raise DataError(f"{path.name}: expected a folder of IDX files or an .npz file")
    max_label = int(max(y_train.max(initial=0), y_test.max(initial=0)))
    class_names = tuple(str(i) for i in range(max(10, max_label + 1)))
    # The name depends on the content, so it is only known once everything is assembled.
    ds = _assemble("custom", f"Custom data from {source}", x_train, y_train, x_test, y_test,
                   class_names, val_size)
    return _replace_name(ds, f"custom:{ds.fingerprint[:12]}")


# ---- bundled sample ----------------------------------------------------------------------------

def _sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 sample digits as (x, y), read from the package's `SAMPLE_FILE`."""
    try:
        with np.load(SAMPLE_FILE, allow_pickle=False) as npz:
            x, y = npz["x"], npz["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"the bundled MNIST sample {SAMPLE_FILE} cannot be read ({exc}); "
                        "reinstall Latent Lab") from exc
    if x.dtype != np.uint8 or x.shape != (5000, *IMAGE_SHAPE) or y.shape != (5000,):
        raise DataError(f"the bundled MNIST sample {SAMPLE_FILE} is damaged; reinstall Latent Lab")
    return x, y.astype(np.int64)


def _read_array_cache(cache: Path, source_hash: str, names: tuple[str, ...]):
    """The arrays `names` from a cache written by `_write_array_cache` for `source_hash`, or None."""
    try:
        with np.load(cache, allow_pickle=False) as npz:
            if str(npz["source_sha256"]) != source_hash:
                return None
            return tuple(npz[n] for n in names)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing or damaged cache: read the source again and rewrite it


def _write_array_cache(cache: Path, source_hash: str, arrays: dict[str, np.ndarray]) -> None:
    # A read-only or otherwise unusable data home only costs speed, so errors are ignored.
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, lambda f: np.savez(f, **arrays, source_sha256=np.array(source_hash)))  # type: ignore[arg-type]
    except OSError:
        pass


# ---- file formats -------------------------------------------------------------------------------

def _find_idx(folder: Path, split: str, kind: str) -> Path | None:
    base = _IDX_BASES[(split, kind)]
    dotted = base.replace("-idx", ".idx", 1)  # "train-images.idx3-ubyte"
    for stem in (base, dotted):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
    return None


def _has_idx_set(folder: Path) -> bool:
    return folder.is_dir() and all(_find_idx(folder, s, k) for s, k in _IDX_BASES)


def _read_idx_dir_cached(folder: Path, cache: Path):
    """`_read_idx_dir`, through an uncompressed copy of the decoded arrays at `cache`, which a new process
    reads about 4x sooner than it gunzips the IDX files. Keyed by the SHA-256 of the four files."""
    found = [path for split, kind in _IDX_BASES if (path := _find_idx(folder, split, kind)) is not None]
    if len(found) < len(_IDX_BASES):
        return _read_idx_dir(folder)  # it names the missing file
    digest = hashlib.sha256()
    for path in found:
        digest.update(f"{path.name}:{file_hash(path)};".encode())
    names = ("x_train", "y_train", "x_test", "y_test")
    cached = _read_array_cache(cache, digest.hexdigest(), names)
    if cached is not None and all(a.dtype == np.uint8 and a.shape[1:] == IMAGE_SHAPE for a in cached[0::2]) \
            and all(y.shape == (len(x),) for x, y in zip(cached[0::2], cached[1::2])):
        return cached
    arrays = _read_idx_dir(folder)
    _write_array_cache(cache, digest.hexdigest(), dict(zip(names, arrays)))
    return arrays


def _read_idx_dir(folder: Path):
    """Read the four standard IDX files of a folder as (x_train, y_train, x_test, y_test)."""
    paths = {}
    for split, kind in _IDX_BASES:
        found = _find_idx(folder, split, kind)
        if found is None:
            raise DataError(f"{folder}: no {_IDX_BASES[(split, kind)]}[.gz] file")
        paths[(split, kind)] = found
    out = []
    for split in ("train", "test"):
        images = read_idx(paths[(split, "images")])
        labels = read_idx(paths[(split, "labels")])
        images_name, labels_name = paths[(split, "images")].name, paths[(split, "labels")].name
        if images.ndim != 3:
            raise DataError(f"{images_name}: expected 3-D images (N, 28, 28), got shape "
                            f"{images.shape}")
        if labels.ndim != 1:
            raise DataError(f"{labels_name}: expected 1-D labels, got shape {labels.shape}")
        out += [_check_images(images, images_name), _check_labels(labels, len(images),
                                                                  labels_name, images_name)]
    return tuple(out)


def _read_npz(path: Path):
    """Read x_train, y_train, x_test, y_test from an .npz, never unpickling anything."""
    required = ("x_train", "y_train", "x_test", "y_test")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):  # a lone .npy array named .npz
            raise DataError(f"{path.name}: not an .npz archive")
        with npz:
            missing = [k for k in required if k not in npz.files]
            if missing:
                raise DataError(f"{path.name}: missing arrays {', '.join(missing)} (needs "
                                f"{', '.join(required)})")
            arrays = {k: npz[k] for k in required}
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{path.name}: holds Python objects (pickled data), which are never "
                            "loaded; save plain numeric arrays") from None
        raise DataError(f"{path.name}: unreadable .npz ({exc})") from exc
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path.name}: unreadable .npz ({exc})") from exc
    out = []
    for split in ("train", "test"):
        x = _as_images(arrays[f"x_{split}"], f"{path.name}: x_{split}")
        out += [x, _check_labels(arrays[f"y_{split}"], len(x), f"{path.name}: y_{split}",
                                 f"x_{split}")]
    return tuple(out)


def _as_images(x: np.ndarray, what: str) -> np.ndarray:
    """Bring (N, 28, 28) or (N, 784) uint8 or float-in-[0, 1] images to (N, 28, 28) uint8."""
    if x.ndim == 2 and x.shape[1] == IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        x = x.reshape(-1, *IMAGE_SHAPE)
    if x.ndim != 3:
        raise DataError(f"{what}: expected images of shape (N, 28, 28) or (N, 784), got {x.shape}")
    if x.dtype == np.uint8:
        return _check_images(x, what)
    if np.issubdtype(x.dtype, np.floating):
        if x.size and not (np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0):
            raise DataError(f"{what}: float images must lie in [0, 1] (got "
                            f"{np.nanmin(x):.3g}..{np.nanmax(x):.3g} or non-finite values)")
        return _check_images(np.rint(x * 255.0).astype(np.uint8), what)
    raise DataError(f"{what}: images must be uint8 (0..255) or float (0..1), got {x.dtype}")


def _check_images(x: np.ndarray, what: str) -> np.ndarray:
    if x.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{what}: images are {x.shape[1]}x{x.shape[2]}, expected 28x28")
    if len(x) == 0:
        raise DataError(f"{what}: no images")
    return x


def _check_labels(y: np.ndarray, n_images: int, what: str, images_what: str) -> np.ndarray:
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DataError(f"{what}: labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(y) != n_images:
        raise DataError(f"{what}: {len(y)} labels for {n_images} images in {images_what}")
    if np.issubdtype(y.dtype, np.floating) and y.size and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DataError(f"{what}: labels must be whole numbers, got fractions or non-finite values")
    # Compared in the array's own type, before any cast: uint64 labels of 2**63 and more would wrap.
    if y.size and (y.min() < 0 or y.max() >= MAX_CLASSES):
        raise DataError(f"{what}: labels must be whole numbers from 0 to {MAX_CLASSES - 1}, "
                        f"got {y.min():.0f}..{y.max():.0f}")
    return y.astype(np.int64)


# ---- splitting and assembly ------------------------------------------------------------------

def _stratified_pick(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Pick k indices spread evenly over the classes (each class within one of its share)."""
    order = np.lexsort((rng.random(len(y)), y))  # grouped by label, shuffled within a label
    positions = (np.arange(k) * len(y)) // k
    return np.sort(order[positions])


def _default_val_size(n_train: int) -> int:
    return 5000 if n_train >= 50_000 else n_train // 10


def _assemble(name, description, x_train, y_train, x_test, y_test, class_names,
              val_size) -> Dataset:
    n = len(x_train)
    if n < MIN_TRAIN_IMAGES:
        raise DataError(f"{name}: {n} training images; at least {MIN_TRAIN_IMAGES} are needed, as a tenth "
                        "is kept for validation")
    val_size = _default_val_size(n) if val_size is None else val_size
    if not isinstance(val_size, (int, np.integer)) or not 0 <= val_size < n:
        raise DataError(f"{name}: val_size must be an integer from 0 to {n - 1}, got {val_size!r}")
    val_idx = _stratified_pick(y_train, int(val_size), np.random.default_rng(SPLIT_SEED))
    keep = np.ones(n, dtype=bool)
    keep[val_idx] = False
    arrays = {
        "x_train": np.ascontiguousarray(x_train[keep]), "y_train": y_train[keep],
        "x_val": np.ascontiguousarray(x_train[val_idx]), "y_val": y_train[val_idx],
        "x_test": np.ascontiguousarray(x_test), "y_test": np.ascontiguousarray(y_test),
    }
    description = (f"{description} ({len(arrays['x_train']):,} train / "
                   f"{len(arrays['x_val']):,} val / {len(arrays['x_test']):,} test)")
    return Dataset(name=name, description=description, class_names=tuple(class_names),
                   fingerprint=_fingerprint(arrays), **arrays)


def _replace_name(ds: Dataset, name: str) -> Dataset:
    fields = {f: getattr(ds, f) for f in ds.__dataclass_fields__}
    fields["name"] = name
    return Dataset(**fields)


def _fingerprint(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ---- files on disk ------------------------------------------------------------------------------

def _dataset_dir(name: str, home: Path | None) -> Path:
    return (Path(home).expanduser() if home is not None else data_home()) / "data" / name


_verified: dict[str, tuple] = {}  # path -> (size, mtime_ns, expected hash) that last matched


def _file_verified(path: Path, known_hash: str) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    signature = (st.st_size, st.st_mtime_ns, known_hash)
    key = str(path)
    with _cache_lock:
        if _verified.get(key) == signature:
            return True
    if file_hash(path) != known_hash:
        return False
    with _cache_lock:
        _verified[key] = signature
    return True


def _stat_signature(path: Path) -> tuple:
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    sig = []
    for p in files:
        st = p.stat()
        sig.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(sig)
