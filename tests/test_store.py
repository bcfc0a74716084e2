"""Tests of the model store: exact round trips for every family, metadata, no pickle, corrupt
entries treated as missing with a warning, temporary leftovers, key checks, unwritable roots, and
`get_or_train` in front of it."""
from __future__ import annotations

import json
import os
import pickle
import struct
import textwrap
import warnings

import pytest
import torch
from conftest import SMALL_CONFIGS

from aecore.configs import FAMILIES
from aecore.errors import ConfigError, StoreError
from aecore.models import build_model
from aecore.runs import describe_run, get_or_train, train_spec
from aecore.spec import STORE_FORMAT, RunSpec, make_spec
from aecore.store import META, WEIGHTS, ModelStore, default_root


def train_and_describe(family, data, epochs=1, seed=0):
    spec = make_spec(family, "mnist-tiny", epochs=epochs, seed=seed, **SMALL_CONFIGS[family])
    result = train_spec(spec, data, device="cpu")
    return spec.key(data.fingerprint), result, describe_run(spec, data, result)


@pytest.fixture
def saved(store, tiny_data):
    """A trained ae saved in `store`: (key, model, the metadata given to save)."""
    key, result, meta = train_and_describe("ae", tiny_data)
    store.save(key, result.model, meta)
    return key, result.model, meta


def images(data, n=32):
    return torch.tensor(data.x_test[:n].reshape(n, -1), dtype=torch.float32) / 255


# ---- round trip --------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_save_then_load_gives_bit_identical_outputs(family, store, tiny_data):
    key, result, meta = train_and_describe(family, tiny_data)
    path = store.save(key, result.model, meta)
    assert path == store.root / key and (path / WEIGHTS).is_file() and (path / META).is_file()
    loaded = store.load(key)
    assert loaded is not None and loaded.key == key
    assert type(loaded.model) is type(result.model) and not loaded.model.training
    assert loaded.spec.to_dict() == meta["spec"]
    x = images(tiny_data)
    result.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model.encode(x), result.model.encode(x))
        assert torch.equal(loaded.model.reconstruct(x), result.model.reconstruct(x))
    original = result.model.state_dict()
    assert loaded.model.state_dict().keys() == original.keys()
    assert all(torch.equal(v, original[k]) for k, v in loaded.model.state_dict().items())


def test_meta_has_spec_history_probe_and_versions(saved, store):
    key, _, meta = saved
    stored = store.read_meta(key)
    assert stored["key"] == key and stored["format"] == STORE_FORMAT
    assert RunSpec.from_dict(stored["spec"]) == RunSpec.from_dict(meta["spec"]) and stored["spec"]["family"] == "ae"
    assert len(stored["history"]) == 1 and stored["history"][0]["event"] == "epoch"
    assert len(stored["probe"]["snapshots"]) == 1 and len(stored["probe"]["indices"]) == 256
    assert {"python", "torch", "numpy", "safetensors"} <= set(stored["versions"])
    assert stored["versions"]["torch"] == torch.__version__
    assert stored["dataset"]["fingerprint"] and stored["final"]["test"]["loss"] > 0
    assert len(stored["weights_sha256"]) == 64 and stored["created"] > 0
    assert store.load(key).meta == stored


def test_saving_again_replaces_the_entry(saved, store, tiny_data):
    key, _, meta = saved
    _, other, _ = train_and_describe("ae", tiny_data, seed=5)
    store.save(key, other.model, {**meta, "label": "replaced"})
    loaded = store.load(key)
    assert loaded.meta["label"] == "replaced"
    assert all(torch.equal(v, other.model.state_dict()[k]) for k, v in loaded.model.state_dict().items())
    assert store.keys() == [key]
    assert not [p for p in store.root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]


def test_metadata_is_parsed_once_per_file_version(saved, store, tiny_data, monkeypatch):
    key, _, meta = saved
    first = store.read_meta(key)
    assert store.read_meta(key) is first  # unchanged file: the parsed dict is reused
    store.save(key, saved[1], {**meta, "label": "changed"})
    assert store.read_meta(key)["label"] == "changed"  # a new version is read again
    store.delete(key)
    assert store.read_meta(key) is None


def test_list_and_delete(saved, store, tiny_data):
    key, _, _ = saved
    other_key, result, meta = train_and_describe("vae", tiny_data)
    store.save(other_key, result.model, meta)
    assert store.keys() == sorted([key, other_key])
    assert [m["key"] for m in store.list()] == [other_key, key]  # newest first
    assert store.delete(key) is True
    assert store.delete(key) is False
    assert store.load(key) is None and store.keys() == [other_key]


def test_empty_or_missing_root_lists_nothing(tmp_path):
    store = ModelStore(tmp_path / "never-created")
    assert store.keys() == [] and store.list() == [] and store.load("0" * 20) is None


def test_default_root_follows_aecore_home(isolated_home):
    assert default_root() == isolated_home / "models"
    assert ModelStore().root == isolated_home / "models"


# ---- no pickle -----------------------------------------------------------------------------------------

def test_weights_are_safetensors_and_nothing_is_unpickled(saved, store, monkeypatch):
    key, model, _ = saved
    raw = (store.path(key) / WEIGHTS).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    assert set(header) - {"__metadata__"} == set(model.state_dict())
    assert all(v["dtype"] == "F32" for k, v in header.items() if k != "__metadata__")

    def refuse(*args, **kwargs):
        raise AssertionError("the store must never unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a swallowed AssertionError would show as a "corrupt" warning
        assert store.load(key) is not None


# ---- corrupt entries ------------------------------------------------------------------------------

def _truncate(entry, key):
    path = entry / WEIGHTS
    path.write_bytes(path.read_bytes()[:-100])


def _flip_byte(entry, key):
    path = entry / WEIGHTS
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # a weight, not the header: only the checksum can tell
    path.write_bytes(bytes(raw))


def _garbage_json(entry, key):
    (entry / META).write_text("{not json")


def _json_for_another_key(entry, key):
    meta = json.loads((entry / META).read_text())
    meta["key"] = "f" * 20
    (entry / META).write_text(json.dumps(meta))


def _missing_weights(entry, key):
    (entry / WEIGHTS).unlink()


def _missing_meta(entry, key):
    (entry / META).unlink()


def _other_format(entry, key):
    meta = json.loads((entry / META).read_text())
    meta["format"] = STORE_FORMAT + 1
    (entry / META).write_text(json.dumps(meta))


def _consistent_but_wrong_tensors(entry, key):
    # Checksum updated too (a hand-edited entry): the state dict itself no longer fits the model.
    from safetensors.torch import save_file

    from aecore.files import file_hash
    save_file({"encoder.0.weight": torch.zeros(3, 3)}, str(entry / WEIGHTS))
    meta = json.loads((entry / META).read_text())
    meta["weights_sha256"] = file_hash(entry / WEIGHTS)
    (entry / META).write_text(json.dumps(meta))


def _bad_spec(entry, key):
    meta = json.loads((entry / META).read_text())
    meta["spec"]["model"]["hidden"] = [0]
    (entry / META).write_text(json.dumps(meta))


@pytest.mark.parametrize("damage", [_truncate, _flip_byte, _garbage_json, _json_for_another_key, _missing_weights,
                                    _missing_meta, _other_format, _consistent_but_wrong_tensors, _bad_spec])
def test_corrupt_entry_warns_and_loads_as_missing(damage, saved, store):
    key = saved[0]
    damage(store.path(key), key)
    with pytest.warns(UserWarning, match=f"{key} is corrupt"):
        assert store.load(key) is None


def test_missing_entry_is_none_without_warning(store):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.load("0123456789abcdef0123") is None


def test_corrupt_entry_is_retrained_by_get_or_train(tiny_npz, store):
    spec = make_spec("ae", str(tiny_npz), epochs=1, **SMALL_CONFIGS["ae"])
    first, trained = get_or_train(spec, store)
    assert trained
    _flip_byte(store.path(first.key), first.key)
    with pytest.warns(UserWarning, match="corrupt"):
        again, trained = get_or_train(spec, store)
    assert trained and again.key == first.key
    assert store.load(first.key) is not None  # rewritten whole


# ---- leftovers, keys, unwritable roots -------------------------------------------------------------

def test_leftover_temporary_directory_is_not_listed(saved, store):
    key = saved[0]
    leftover = store.root / f".tmp-{key}-abc123"
    leftover.mkdir()
    (leftover / META).write_text((store.path(key) / META).read_text())
    (store.root / "not-a-key").mkdir()
    assert store.keys() == [key]
    assert [m["key"] for m in store.list()] == [key]
    assert store.clean_temporary(older_than_s=3600) == 0  # young: maybe a save in progress
    assert store.clean_temporary(older_than_s=-1) == 1
    assert not leftover.exists() and store.path(key).is_dir()


@pytest.mark.parametrize("key", ["../etc", "ABC", "0123456789abcdef0123" * 2, "0123456789ABCDEF0123", "",
                                 "0123456789abcdef012/", None, 12345])
def test_invalid_keys_are_refused(key, store):
    model = build_model("ae", SMALL_CONFIGS["ae"])
    for call in (lambda: store.load(key), lambda: store.path(key), lambda: store.delete(key),
                 lambda: store.save(key, model, {})):
        with pytest.raises(ConfigError):
            call()
    assert not (store.root.parent / "etc").exists()


def _unwritable_root(tmp_path):
    """A store root that cannot be created or written, also when the tests run as root."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        if not os.access(locked, os.W_OK):
            return locked / "models"
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file where a directory should be")
    return blocker / "models"


def test_unwritable_root_raises_store_error(tmp_path, tiny_data):
    key, result, meta = train_and_describe("ae", tiny_data)
    store = ModelStore(_unwritable_root(tmp_path))
    with pytest.raises(StoreError, match="cannot save"):
        store.save(key, result.model, meta)
    assert store.load(key) is None and store.keys() == []


# ---- get_or_train ---------------------------------------------------------------------------------

def test_get_or_train_trains_once_then_loads(tiny_npz, store, monkeypatch):
    import aecore.runs as runs
    calls = []
    real = runs.train_spec
    monkeypatch.setattr(runs, "train_spec", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    spec = make_spec("ae", str(tiny_npz), epochs=1, **SMALL_CONFIGS["ae"])
    first, trained = get_or_train(spec, store)
    assert trained and len(calls) == 1
    second, trained = get_or_train(spec, store)
    assert not trained and len(calls) == 1
    assert second.key == first.key and store.keys() == [first.key]
    assert second.meta["dataset"]["name"].startswith("custom:")
    x = torch.rand(4, 784)
    with torch.no_grad():
        assert torch.equal(first.model.reconstruct(x), second.model.reconstruct(x))
    # The meta of a fresh model and of a loaded one describe the same run.
    assert first.meta == second.meta


# ---- hostile entries and concurrent processes ------------------------------------------------------

def _deeply_nested_meta(entry, key):
    (entry / META).write_text("[" * 200_000)  # json's parser raises RecursionError, not ValueError


def _weights_not_safetensors(entry, key):
    from aecore.files import file_hash
    (entry / WEIGHTS).write_bytes(b"\xff" * 64)  # with a matching checksum: safetensors itself must refuse it
    meta = json.loads((entry / META).read_text())
    meta["weights_sha256"] = file_hash(entry / WEIGHTS)
    (entry / META).write_text(json.dumps(meta))


@pytest.mark.parametrize("damage", [_deeply_nested_meta, _weights_not_safetensors])
def test_hostile_entry_loads_as_missing_with_a_warning(damage, saved, store):
    key = saved[0]
    damage(store.path(key), key)
    with pytest.warns(UserWarning, match=f"{key} is corrupt") as caught:
        assert store.load(key) is None
    assert len([w for w in caught if "corrupt" in str(w.message)]) == 1


def test_corrupt_metadata_is_left_out_of_the_list_with_one_warning(saved, store, tiny_data):
    key = saved[0]
    other, result, meta = train_and_describe("ae", tiny_data, seed=1)
    store.save(other, result.model, meta)
    _deeply_nested_meta(store.path(key), key)
    fresh = ModelStore(store.root)
    with pytest.warns(UserWarning, match=f"{key} is corrupt") as caught:
        assert [m["key"] for m in fresh.list()] == [other]
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the dashboard lists on every rerun: warned once per file version
        assert [m["key"] for m in fresh.list()] == [other]


def test_stale_temporary_directories_are_removed_when_a_store_opens(saved, store):
    key = saved[0]
    stale, young = store.root / f".tmp-{key}-killed", store.root / f".tmp-{key}-saving"
    for leftover in (stale, young):
        leftover.mkdir()
        (leftover / WEIGHTS).write_bytes(b"\0" * 1024)
    old = os.path.getmtime(stale) - 3600
    os.utime(stale, (old, old))
    ModelStore(store.root)
    assert not stale.exists() and young.exists() and store.path(key).is_dir()


# Saves (writer) or loads (reader) one key for `seconds` after the parent says go; prints what went wrong.
_CONCURRENT = textwrap.dedent("""
    import json, sys, time, warnings, torch
    from aecore.models import build_model
    from aecore.spec import make_spec
    from aecore.store import ModelStore
    torch.set_num_threads(1)
    role, root, key, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    store = ModelStore(root)
    spec = make_spec("ae", "mnist-tiny", hidden=(32, 8))
    torch.manual_seed(0)
    model = build_model("ae", spec.model)
    meta = {"spec": spec.to_dict(), "dataset": {"name": "mnist-tiny"}, "history": [],
            "final": {"train": {}, "val": {}, "test": {}}}
    print("ready", flush=True)
    sys.stdin.readline()
    done, errors, corrupt, missing = 0, [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if role == "writer":
            try:
                store.save(key, model, meta)
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                loaded = store.load(key)
                listed = store.list()
            corrupt += sum("corrupt" in str(w.message) for w in caught)
            missing += loaded is None
        done += 1
    print(json.dumps({"role": role, "done": done, "errors": errors[:5], "n_errors": len(errors),
                      "corrupt": corrupt, "missing": missing}), flush=True)
""")


@pytest.mark.slow
def test_saving_one_key_from_several_processes_never_fails(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root, key, seconds = tmp_path / "models", "0123456789abcdef0123", 3.0
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, role, str(root), key, str(seconds)],
                              cwd=Path(__file__).resolve().parents[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
             for role in ["writer"] * 3 + ["reader"] * 2]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:  # all start together, so the saves and loads overlap
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    writers = [r for r in reports if r["role"] == "writer"]
    readers = [r for r in reports if r["role"] == "reader"]
    assert all(r["n_errors"] == 0 for r in writers), writers
    assert sum(r["done"] for r in writers) >= 6 and sum(r["done"] for r in readers) >= 6, reports
    assert all(r["corrupt"] == 0 for r in readers), readers
    assert not [p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    assert ModelStore(root).load(key) is not None
