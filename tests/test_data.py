"""Tests of the data layer: the IDX reader and writer, checksummed downloads against a local HTTP
server, and `load_dataset` on the bundled sample, Debian's Fashion-MNIST and user files."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aecore.data import (
    DATASET_NAMES,
    Dataset,
    data_home,
    default_dataset_name,
    fetch_files,
    full_mnist_on_disk,
    load_dataset,
    read_idx,
    write_idx,
)
from aecore.data import datasets as datasets_module
from aecore.data.datasets import DECODED_CACHE
from aecore.errors import DataError

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data home and an empty in-process cache; ~/.cache is never used."""
    home = tmp_path / "aecore-home"
    monkeypatch.setenv("AECORE_HOME", str(home))
    datasets_module._clear_cache()
    yield home
    datasets_module._clear_cache()


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory):
    """A data home shared by the sample tests, so the CSV is parsed once for the module."""
    return tmp_path_factory.mktemp("sample-home")


def _images(n, size=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size), dtype=np.uint8)


def _labels(n, seed=0):
    return np.arange(n, dtype=np.uint8) % 10


def _write_idx_set(folder: Path, n_train=50, n_test=20, gz=True, size=28, n_train_labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", _images(n_train, size, seed=1))
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}",
              _labels(n_train if n_train_labels is None else n_train_labels))
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", _images(n_test, size, seed=2))
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", _labels(n_test))
    return folder


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


# ---- IDX reading and writing -------------------------------------------------------------------

class TestIdx:
    @pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
    def test_round_trip(self, tmp_path, name):
        arr = _images(7)
        path = write_idx(tmp_path / name, arr)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
        back = read_idx(path)
        assert back.dtype == np.uint8 and back.shape == (7, 28, 28)
        np.testing.assert_array_equal(back, arr)

    @pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 2, 2, 2)])
    def test_round_trip_any_rank(self, tmp_path, shape):
        arr = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
        np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.idx", arr)), arr)

    def test_gzip_detected_by_content_not_name(self, tmp_path):
        arr = _images(3)
        path = tmp_path / "no-suffix-idx3-ubyte"
        path.write_bytes(gzip.compress(_idx_bytes(arr)))
        np.testing.assert_array_equal(read_idx(path), arr)

    def test_gz_write_is_deterministic(self, tmp_path):
        arr = _images(4)
        a = write_idx(tmp_path / "a.gz", arr).read_bytes()
        b = write_idx(tmp_path / "b.gz", arr).read_bytes()
        assert a == b

    def test_write_rejects_values_outside_bytes(self, tmp_path):
        with pytest.raises(DataError, match="0..255"):
            write_idx(tmp_path / "x.idx", np.array([1, 256]))
        with pytest.raises(DataError, match="0..255"):
            write_idx(tmp_path / "x.idx", np.array([0.5]))

    @pytest.mark.parametrize("gz", [False, True])
    def test_truncated(self, tmp_path, gz):
        data = _idx_bytes(_images(10))[:1000]
        path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        with pytest.raises(DataError, match=rf"{path.name}: truncated: expected 7840 bytes of "
                                            r"data, found 984"):
            read_idx(path)

    @pytest.mark.parametrize("gz", [False, True])
    def test_trailing_bytes(self, tmp_path, gz):
        data = _idx_bytes(_images(2)) + b"\x00\x01\x02"
        path = tmp_path / ("lbl" + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        with pytest.raises(DataError, match=rf"{path.name}: 3 trailing bytes"):
            read_idx(path)

    @pytest.mark.parametrize("head, reason", [
        (b"PK\x03\x04", "not an IDX file"),
        (b"\x00\x00\x0d\x03", "unsupported IDX data type 0x0d"),
        (b"\x00\x00\x08\x00", "number of dimensions 0"),
        (b"\x00\x00\x08\x05", "number of dimensions 5"),
    ])
    def test_bad_magic(self, tmp_path, head, reason):
        path = tmp_path / "weird-idx3-ubyte"
        path.write_bytes(head + b"\x00" * 64)
        with pytest.raises(DataError, match=f"weird-idx3-ubyte: .*{reason}"):
            read_idx(path)

    def test_empty_file(self, tmp_path):
        path = tmp_path / "empty-idx1-ubyte"
        path.write_bytes(b"")
        with pytest.raises(DataError, match="empty-idx1-ubyte: empty file"):
            read_idx(path)

    def test_empty_gzip(self, tmp_path):
        path = tmp_path / "empty.gz"
        path.write_bytes(gzip.compress(b""))
        with pytest.raises(DataError, match="empty.gz: empty file"):
            read_idx(path)

    @pytest.mark.parametrize("damage", ["flip", "cut"])
    def test_corrupt_gzip(self, tmp_path, damage):
        blob = bytearray(gzip.compress(_idx_bytes(_images(20))))
        if damage == "flip":
            blob[len(blob) // 2] ^= 0xFF
            blob[len(blob) // 2 + 1] ^= 0xFF
        else:
            blob = blob[: len(blob) // 2]
        path = tmp_path / "train-images-idx3-ubyte.gz"
        path.write_bytes(bytes(blob))
        with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: "):
            read_idx(path)

    def test_absurd_header_is_refused_before_allocating(self, tmp_path):
        path = tmp_path / "huge"
        path.write_bytes(b"\x00\x00\x08\x03" + np.array([10**6, 10**6, 10**6], ">u4").tobytes())
        with pytest.raises(DataError, match="huge: header claims shape"):
            read_idx(path)
        # Within the cap but far beyond the data: a length check, not a MemoryError.
        path.write_bytes(b"\x00\x00\x08\x01" + np.array([2**30 - 1], ">u4").tobytes() + b"x")
        with pytest.raises(DataError, match="huge: truncated"):
            read_idx(path)
        path.write_bytes(gzip.compress(path.read_bytes()))
        with pytest.raises(DataError, match="huge: truncated"):
            read_idx(path)

    def test_gzip_declaring_billions_of_values_is_refused_before_reading(self, tmp_path):
        import resource
        import time
        path = tmp_path / "train-images-idx3-ubyte.gz"
        header = b"\x00\x00\x08\x03" + np.array([2_700_000, 28, 28], ">u4").tobytes()  # 2.1 G values
        with gzip.open(path, "wb", compresslevel=1) as f:  # 64 MB of zeros in about 64 KB
            f.write(header)
            for _ in range(64):
                f.write(bytes(2**20))
        before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
        with pytest.raises(DataError, match="2,116,800,000 values\\), more than"):
            read_idx(path)
        assert time.perf_counter() - t0 < 0.5  # refused from the header, not after decompressing
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024  # KiB

    def test_missing_file(self, tmp_path):
        with pytest.raises(DataError, match="nope.gz: file not found"):
            read_idx(tmp_path / "nope.gz")

    @settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.one_of(
        st.binary(max_size=300),
        # A valid-looking header followed by noise reaches the dimension and length checks.
        st.builds(lambda ndim, dims, rest: bytes([0, 0, 8, ndim]) + dims + rest,
                  st.integers(0, 6), st.binary(min_size=0, max_size=24), st.binary(max_size=200)),
    ), compress=st.booleans())
    def test_arbitrary_bytes_give_array_or_data_error(self, tmp_path, data, compress):
        path = tmp_path / "fuzz-idx"
        path.write_bytes(gzip.compress(data) if compress else data)
        try:
            arr = read_idx(path)
        except DataError as exc:
            assert "fuzz-idx" in str(exc)
        else:
            assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8


# ---- loading from files --------------------------------------------------------------------------

class TestLoadFromPath:
    @pytest.mark.parametrize("gz", [True, False])
    def test_idx_folder(self, tmp_path, gz):
        folder = _write_idx_set(tmp_path / "digits", gz=gz)
        ds = load_dataset(str(folder))
        assert ds.name == f"custom:{ds.fingerprint[:12]}"
        assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (45, 5, 20)
        assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
        assert ds.class_names == tuple("0123456789")

    def test_kaggle_names(self, tmp_path):
        folder = tmp_path / "kaggle"
        folder.mkdir()
        write_idx(folder / "train-images.idx3-ubyte", _images(30))
        write_idx(folder / "train-labels.idx1-ubyte", _labels(30))
        write_idx(folder / "t10k-images.idx3-ubyte", _images(10))
        write_idx(folder / "t10k-labels.idx1-ubyte", _labels(10))
        assert len(load_dataset(str(folder), val_size=0).x_train) == 30

    def test_count_mismatch(self, tmp_path):
        folder = _write_idx_set(tmp_path / "bad", n_train=50, n_train_labels=49)
        with pytest.raises(DataError, match="49 labels for 50 images"):
            load_dataset(str(folder))

    def test_wrong_image_size(self, tmp_path):
        folder = _write_idx_set(tmp_path / "big", size=32)
        with pytest.raises(DataError, match="32x32, expected 28x28"):
            load_dataset(str(folder))

    def test_missing_idx_file(self, tmp_path):
        folder = _write_idx_set(tmp_path / "partial")
        (folder / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
            load_dataset(str(folder))

    def test_npz_flat_float_images(self, tmp_path):
        x = np.random.default_rng(0).random((40, 784)).astype(np.float32)
        path = tmp_path / "d.npz"
        np.savez(path, x_train=x, y_train=np.arange(40) % 10, x_test=x[:10],
                 y_test=np.arange(10))
        ds = load_dataset(str(path))
        assert ds.x_train.shape[1:] == (28, 28) and ds.x_train.dtype == np.uint8
        assert len(ds.x_train) + len(ds.x_val) == 40
        np.testing.assert_array_equal(ds.x_test, np.rint(x[:10] * 255).reshape(-1, 28, 28))

    def test_npz_missing_arrays(self, tmp_path):
        path = tmp_path / "d.npz"
        np.savez(path, x_train=_images(5), y_train=_labels(5))
        with pytest.raises(DataError, match="missing arrays x_test, y_test"):
            load_dataset(str(path))

    def test_npz_pickled_objects_refused(self, tmp_path):
        path = tmp_path / "evil.npz"
        objects = np.empty(3, dtype=object)
        objects[:] = [{"a": 1}, None, "x"]
        np.savez(path, x_train=_images(3), y_train=objects, x_test=_images(3), y_test=_labels(3))
        with pytest.raises(DataError, match="evil.npz: .*pickled"):
            load_dataset(str(path))

    @pytest.mark.parametrize("x, y, reason", [
        (np.full((5, 28, 28), 2.0), np.arange(5), "must lie in \\[0, 1\\]"),
        (np.zeros((5, 28, 28), np.int32), np.arange(5), "uint8 .* or float"),
        (np.zeros((5, 30, 30), np.uint8), np.arange(5), "30x30"),
        (np.zeros((5, 28, 28), np.uint8), np.arange(5) + 0.5, "whole numbers"),
        (np.zeros((5, 28, 28), np.uint8), np.array([0, 1, 2, 3, np.nan]), "whole numbers"),
        (np.zeros((5, 28, 28), np.uint8), np.arange(5).astype(np.int8).reshape(5, 1), "1-D"),
        (np.zeros((5, 28, 28), np.uint8), np.array([0, 1, 2, 3, 10**12]), "from 0 to 999"),
        (np.zeros((5, 28, 28), np.uint8), np.array([0, 1, 2, 3, 1000]), "from 0 to 999"),
        (np.zeros((5, 28, 28), np.uint8), np.array([0, 1, 2, 3, 2**63], np.uint64), "from 0 to 999"),
        (np.zeros((5, 28, 28), np.uint8), np.array([0, 1, 2, 3, -1]), "from 0 to 999"),
        (np.zeros((5, 28, 28), np.uint8), np.arange(4), "4 labels for 5 images"),
    ])
    def test_npz_bad_content(self, tmp_path, x, y, reason):
        path = tmp_path / "d.npz"
        np.savez(path, x_train=x, y_train=y, x_test=_images(2), y_test=_labels(2))
        with pytest.raises(DataError, match=reason):
            load_dataset(str(path))

    def test_npz_whole_float_labels_and_many_classes(self, tmp_path):
        path = tmp_path / "d.npz"
        np.savez(path, x_train=_images(40), y_train=np.arange(40) % 12 * 1.0, x_test=_images(12),
                 y_test=np.arange(12, dtype=np.uint64))
        ds = load_dataset(str(path))
        assert ds.y_train.dtype == np.int64 and ds.class_names == tuple(str(i) for i in range(12))

    @pytest.mark.parametrize("n", [1, 9])
    def test_too_few_training_images_is_one_sentence(self, tmp_path, n):
        path = tmp_path / "d.npz"
        np.savez(path, x_train=_images(n), y_train=np.arange(n) % 10, x_test=_images(3), y_test=np.arange(3))
        with pytest.raises(DataError, match=f"{n} training images; at least 10 are needed"):
            load_dataset(str(path))
        np.savez(path, x_train=_images(10), y_train=np.arange(10), x_test=_images(3), y_test=np.arange(3))
        assert (len(load_dataset(str(path)).x_train), len(load_dataset(str(path)).x_val)) == (9, 1)

    def test_not_an_npz(self, tmp_path):
        path = tmp_path / "junk.npz"
        path.write_bytes(b"hello")
        with pytest.raises(DataError, match="junk.npz"):
            load_dataset(str(path))

    def test_unknown_name(self):
        with pytest.raises(DataError, match="unknown dataset 'no-such-thing'"):
            load_dataset("no-such-thing")

    def test_bad_val_size(self, tmp_path):
        folder = _write_idx_set(tmp_path / "d")
        with pytest.raises(DataError, match="val_size"):
            load_dataset(str(folder), val_size=50)

    def test_edited_file_is_not_served_from_cache(self, tmp_path):
        path = tmp_path / "d.npz"
        np.savez(path, x_train=_images(20), y_train=_labels(20), x_test=_images(5),
                 y_test=_labels(5))
        first = load_dataset(str(path))
        assert load_dataset(str(path)) is first
        np.savez(path, x_train=_images(30), y_train=_labels(30), x_test=_images(5),
                 y_test=_labels(5))
        os.utime(path, ns=(1, 1))  # make sure the modification time differs
        assert len(load_dataset(str(path)).x_train) + len(load_dataset(str(path)).x_val) == 30


# ---- named datasets ------------------------------------------------------------------------------

class TestSample:
    def test_splits(self, sample_home):
        ds = load_dataset("mnist-sample", home=sample_home)
        assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (3600, 400, 1000)
        for split in ("train", "val", "test"):
            x, y = ds.split(split)
            assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
            assert y.dtype == np.int64 and len(y) == len(x)
            assert set(np.unique(y)) == set(range(10)), split
        assert ds.x_train.max() == 255 and ds.x_train.min() == 0
        assert ds.class_names == tuple(str(d) for d in range(10))
        assert "shipped with Latent Lab" in ds.description

    def test_deterministic_and_cached(self, sample_home):
        first = load_dataset("mnist-sample", home=sample_home)
        assert load_dataset("mnist-sample", home=sample_home) is first
        datasets_module._clear_cache()
        again = load_dataset("mnist-sample", home=sample_home)
        assert again is not first and again.fingerprint == first.fingerprint
        np.testing.assert_array_equal(again.x_test, first.x_test)
        assert not (sample_home / "data" / "mnist-sample").exists()  # read in place, no copy

    def test_fingerprint_is_stable(self, sample_home):
        # Model store keys hash this: a changed sample file or split would orphan every stored model.
        ds = load_dataset("mnist-sample", home=sample_home)
        assert ds.fingerprint == "bafa047a8500d97eac64f12291300e2d8d0fca3d69188c96d5ccc89f84f9f8ca"

    def test_val_size_changes_fingerprint(self, sample_home):
        a = load_dataset("mnist-sample", home=sample_home)
        b = load_dataset("mnist-sample", home=sample_home, val_size=0)
        assert len(b.x_val) == 0 and len(b.x_train) == 4000
        assert a.fingerprint != b.fingerprint

    def test_arrays_are_read_only(self, sample_home):
        ds = load_dataset("mnist-sample", home=sample_home)
        with pytest.raises(ValueError):
            ds.x_train[0, 0, 0] = 1

    def test_unusable_cache_dir_is_skipped(self, tmp_path):
        home = tmp_path / "h"
        home.mkdir()
        (home / "data").write_text("a file where the data folder should be")
        ds = load_dataset("mnist-sample", home=home)
        assert len(ds.x_test) == 1000

    @pytest.mark.parametrize("content", [b"garbage", None])
    def test_damaged_sample_file_is_one_sentence(self, tmp_path, monkeypatch, content):
        bad = tmp_path / "mnist_sample.npz"
        if content is None:
            np.savez_compressed(bad, x=np.zeros((10, 28, 28), np.uint8), y=np.zeros(10, np.uint8))
        else:
            bad.write_bytes(content)
        monkeypatch.setattr(datasets_module, "SAMPLE_FILE", bad)
        datasets_module._clear_cache()
        with pytest.raises(DataError, match="reinstall Latent Lab"):
            load_dataset("mnist-sample", home=tmp_path / "h")

    def test_concurrent_loads_share_one_object(self, sample_home):
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            load_dataset("mnist-sample", home=sample_home, val_size=123))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(results) == 4 and all(r is results[0] for r in results)


class TestNamed:
    def test_names_and_home(self, isolated_home):
        assert DATASET_NAMES == ("mnist", "mnist-sample", "fashion-mnist")
        assert data_home() == isolated_home

    def test_mnist_missing_says_how_to_get_it(self):
        assert not full_mnist_on_disk()
        assert default_dataset_name() == "mnist-sample"
        with pytest.raises(DataError, match="python -m aecore prepare --dataset mnist"):
            load_dataset("mnist")

    def test_auto_is_the_sample_offline(self, sample_home):
        assert load_dataset("auto", home=sample_home).name == "mnist-sample"

    def test_damaged_mnist_is_not_on_disk(self, isolated_home):
        folder = _write_idx_set(isolated_home / "data" / "mnist")
        assert not full_mnist_on_disk()
        with pytest.raises(DataError, match="missing or damaged"):
            load_dataset("mnist")
        assert folder.is_dir()

    def test_decoded_idx_files_are_kept_and_follow_their_source(self, isolated_home, monkeypatch):
        folder = _write_idx_set(isolated_home / "data" / "fashion-mnist")
        first = load_dataset("fashion-mnist", val_size=10)
        assert (folder / DECODED_CACHE).is_file()
        datasets_module._clear_cache()

        def no_parsing(*args, **kwargs):
            raise AssertionError("the IDX files were parsed again")

        with monkeypatch.context() as m:
            m.setattr(datasets_module, "read_idx", no_parsing)
            again = load_dataset("fashion-mnist", val_size=10)
        assert again.fingerprint == first.fingerprint
        np.testing.assert_array_equal(again.x_train, first.x_train)
        write_idx(folder / "t10k-labels-idx1-ubyte.gz", (_labels(20) + 1) % 10)  # the source changes
        datasets_module._clear_cache()
        changed = load_dataset("fashion-mnist", val_size=10)
        np.testing.assert_array_equal(changed.y_test, (first.y_test + 1) % 10)

    @pytest.mark.skipif(not SYSTEM_FASHION.is_dir(),
                        reason="Debian package dataset-fashion-mnist is not installed "
                               "(/usr/share/datasets/fashion-mnist missing)")
    def test_fashion_from_system_dir(self):
        ds = load_dataset("fashion-mnist")
        assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (55000, 5000, 10000)
        assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
        assert isinstance(ds, Dataset) and "fashion" in repr(ds)
        assert len(repr(ds)) < 200


# ---- downloads against a local server ------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves `self.server.behaviour(handler, filename)`; counts requests per file."""

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        with self.server.lock:
            self.server.requests[name] += 1
        self.server.behaviour(self, name)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Start local HTTP servers; `serve(behaviour)` returns (base_url, server)."""
    servers = []

    def start(behaviour):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.behaviour = behaviour
        server.requests = Counter()
        server.lock = threading.Lock()
        server.release = threading.Event()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/data/", server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_files(tmp_path):
    """Two tiny IDX files: name -> bytes, and name -> sha256."""
    blobs = {
        "train-images-idx3-ubyte.gz": gzip.compress(_idx_bytes(_images(3)), mtime=0),
        "train-labels-idx1-ubyte.gz": gzip.compress(_idx_bytes(_labels(3)), mtime=0),
    }
    return blobs, {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()}


def _good(blobs):
    def behaviour(handler, name):
        if name not in blobs:
            handler.send_error(404)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(blobs[name])))
        handler.end_headers()
        handler.wfile.write(blobs[name])
    return behaviour


class TestDownload:
    def test_good_mirror(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files
        url, server = serve(_good(blobs))
        seen = []
        dest = tmp_path / "dl"

        def progress(name, done, total):
            seen.append((name, done, total))
            # pooch streams into a temporary file; the final name appears only once verified.
            assert not (dest / name).exists()

        assert fetch_files(hashes, [url], dest, timeout=5, progress=progress) == dest
        assert sorted(p.name for p in dest.iterdir()) == sorted(blobs)
        for name, blob in blobs.items():
            assert (dest / name).read_bytes() == blob
        assert read_idx(dest / "train-images-idx3-ubyte.gz").shape == (3, 28, 28)
        finals = {name: (done, total) for name, done, total in seen}
        assert finals == {n: (len(b), len(b)) for n, b in blobs.items()}
        assert all(done <= total for _, done, total in seen)

    def test_wrong_bytes_leave_nothing(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files
        url, _ = serve(_good({n: b[:-1] + bytes([b[-1] ^ 0xFF]) for n, b in blobs.items()}))
        dest = tmp_path / "dl"
        with pytest.raises(DataError, match=r"could not download .*checksum mismatch"):
            fetch_files(hashes, [url], dest, timeout=5)
        assert list(dest.iterdir()) == []  # neither the final name nor a temporary file

    def test_corrupt_existing_file_is_replaced_or_removed(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files
        dest = tmp_path / "dl"
        dest.mkdir()
        (dest / "train-images-idx3-ubyte.gz").write_bytes(b"half a file")
        url, _ = serve(lambda h, n: h.send_error(500))
        with pytest.raises(DataError, match="HTTP 500"):
            fetch_files(hashes, [url], dest, timeout=5)
        assert list(dest.iterdir()) == []
        url, _ = serve(_good(blobs))
        fetch_files(hashes, [url], dest, timeout=5)
        assert (dest / "train-images-idx3-ubyte.gz").read_bytes() == blobs[
            "train-images-idx3-ubyte.gz"]

    def test_cut_connection_falls_over_to_next_mirror(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files

        def cut(handler, name):
            body = blobs[name]
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body) + 1000))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True

        bad, bad_server = serve(cut)
        good, good_server = serve(_good(blobs))
        dest = fetch_files(hashes, [bad, good], tmp_path / "dl", timeout=5)
        assert sorted(p.name for p in dest.iterdir()) == sorted(blobs)
        assert bad_server.requests == good_server.requests == Counter({n: 1 for n in blobs})

    def test_404_then_good(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files
        missing, _ = serve(_good({}))
        good, _ = serve(_good(blobs))
        dest = fetch_files(hashes, [missing, good], tmp_path / "dl", timeout=5)
        for name, blob in blobs.items():
            assert (dest / name).read_bytes() == blob

    def test_all_mirrors_fail_lists_each(self, serve, fake_files, tmp_path):
        _, hashes = fake_files
        missing, _ = serve(_good({}))
        url, server = serve(lambda h, n: server.release.wait(5))  # never answers
        with pytest.raises(DataError) as info:
            fetch_files(hashes, [missing, url, "http://127.0.0.1:9/"], tmp_path / "dl",
                        timeout=0.5)
        message = str(info.value)
        assert "\n" not in message
        assert "HTTP 404" in message and "timed out" in message and "could not connect" in message

    def test_present_file_is_not_fetched_again(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files
        url, server = serve(_good(blobs))
        dest = tmp_path / "dl"
        fetch_files(hashes, [url], dest, timeout=5)
        assert sum(server.requests.values()) == 2
        mtimes = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
        fetch_files(hashes, [url], dest, timeout=5)
        assert sum(server.requests.values()) == 2
        assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == mtimes

    def test_progress_callback_error_propagates(self, serve, fake_files, tmp_path):
        blobs, hashes = fake_files
        url, _ = serve(_good(blobs))

        def stop(*_):
            raise KeyError("user stopped")

        with pytest.raises(KeyError, match="user stopped"):
            fetch_files(hashes, [url], tmp_path / "dl", progress=stop, timeout=5)
        assert list((tmp_path / "dl").iterdir()) == []

    def test_md5_style_hash(self, serve, fake_files, tmp_path):
        blobs, _ = fake_files
        url, _ = serve(_good(blobs))
        md5s = {n: "md5:" + hashlib.md5(b).hexdigest() for n, b in blobs.items()}
        fetch_files(md5s, [url], tmp_path / "dl", timeout=5)
        assert len(list((tmp_path / "dl").iterdir())) == 2

    def test_malformed_hash(self, tmp_path):
        with pytest.raises(DataError, match="malformed expected hash"):
            fetch_files({"a.gz": "abc"}, ["http://127.0.0.1:9/"], tmp_path)

    def test_load_mnist_downloads_when_asked(self, serve, isolated_home, monkeypatch):
        blobs = {
            "train-images-idx3-ubyte.gz": gzip.compress(_idx_bytes(_images(40)), mtime=0),
            "train-labels-idx1-ubyte.gz": gzip.compress(_idx_bytes(_labels(40)), mtime=0),
            "t10k-images-idx3-ubyte.gz": gzip.compress(_idx_bytes(_images(10)), mtime=0),
            "t10k-labels-idx1-ubyte.gz": gzip.compress(_idx_bytes(_labels(10)), mtime=0),
        }
        url, _ = serve(_good(blobs))
        fake = {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()}
        monkeypatch.setattr(datasets_module, "MNIST_FILES", fake)
        monkeypatch.setattr(datasets_module, "MNIST_MIRRORS", [url])
        ds = load_dataset("mnist", download=True)
        assert ds.name == "mnist" and len(ds.x_test) == 10
        assert full_mnist_on_disk() and default_dataset_name() == "mnist"
