"""The file helpers the datasets and the store share: the home folder, hashes, atomic writes."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aecore.files import data_home, file_hash, write_atomic
from aecore.store import default_root


@pytest.mark.parametrize("env", ["", "~/lab-home"])
def test_the_store_and_the_data_read_aecore_home_alike(monkeypatch, env):
    monkeypatch.setenv("AECORE_HOME", env)
    expected = Path.home() / ("lab-home" if env else ".cache/aecore")
    assert data_home() == expected
    assert default_root() == expected / "models"


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_file_hash_is_hashlib_over_the_bytes(tmp_path, algorithm):
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 5000  # over a megabyte: more than one chunk
    path.write_bytes(data)
    assert file_hash(path, algorithm) == hashlib.new(algorithm, data).hexdigest()


def test_write_atomic_replaces_the_whole_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    write_atomic(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_atomic_failure_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
