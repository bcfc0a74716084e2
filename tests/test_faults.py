"""Faults lose nothing: a process killed with SIGKILL in the middle of saving never leaves a store
entry that loads as a wrong model, and the app-facing paths survive an unwritable cache."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

from aecore.models import build_model
from aecore.runs import get_or_train
from aecore.spec import make_spec
from aecore.store import ModelStore

ROOT = Path(__file__).resolve().parents[1]

# Saves model i (seeded, so the parent can rebuild it) under key i, forever, as fast as it can.
SAVER = textwrap.dedent("""
    import hashlib, sys, torch
    from aecore.models import build_model
    from aecore.spec import make_spec
    from aecore.store import ModelStore
    store = ModelStore(sys.argv[1])
    spec = make_spec("ae", "mnist-sample", hidden=(512, 64))
    print("ready", flush=True)
    i = 0
    while True:
        torch.manual_seed(i)
        model = build_model("ae", spec.model)
        store.save(hashlib.sha256(str(i).encode()).hexdigest()[:20], model, {"spec": spec.to_dict(), "i": i})
        i += 1
""")


@pytest.mark.slow  # many killed saver processes
def test_sigkill_during_saves_never_leaves_a_bad_entry(tmp_path):
    root = tmp_path / "models"
    rng = random.Random(0)
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(root)], cwd=ROOT, stdout=subprocess.PIPE,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert child.stdout.readline().strip() == b"ready"
        # kill at a random moment: most of the child's time is spent inside store.save
        try:
            child.wait(rng.uniform(0.05, 0.6))
        except subprocess.TimeoutExpired:
            pass
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    store = ModelStore(root)
    keys = store.keys()
    assert keys, "the child never finished a save"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt entry would warn: none may exist
        for key in keys:
            stored = store.load(key)
            assert stored is not None, f"entry {key} is listed but does not load"
            torch.manual_seed(stored.meta["i"])
            expected = build_model("ae", stored.spec.model).state_dict()
            for name, tensor in stored.model.state_dict().items():
                assert torch.equal(tensor, expected[name]), f"entry {key} holds other weights than it claims"
    leftovers = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    print(f"{len(keys)} complete entries, {len(leftovers)} saves cut short by SIGKILL")
    store.clean_temporary(older_than_s=0)  # leftovers of killed saves are removable, never listed
    assert not [p for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]


def test_unwritable_cache_still_trains_and_says_why(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    store = ModelStore(blocker / "models")  # any write fails, even as root
    with pytest.warns(UserWarning, match="kept in memory"):
        stored, trained = get_or_train(make_spec("ae", "mnist-sample", hidden=(32, 8), epochs=1), store)
    assert trained and stored.model is not None
    x = torch.rand(4, 784)
    assert stored.model.decode(stored.model.encode(x)).shape == (4, 784)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs: a real full disk (mounting needs root, as in CI; skipped with the reason otherwise)."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or 'not root'}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_full_disk_keeps_the_model_in_memory_and_leaves_no_entry(tiny_disk):
    store = ModelStore(tiny_disk / "models")
    spec = make_spec("ae", "mnist-sample", hidden=(256, 32), epochs=1)  # ~0.8 MB of weights: does not fit
    with pytest.warns(UserWarning, match="No space left on device.*kept in memory"):
        stored, trained = get_or_train(spec, store)
    assert trained and stored.model is not None
    assert stored.model.encode(torch.rand(2, 784)).shape == (2, 32)
    assert store.keys() == [] and list((tiny_disk / "models").iterdir()) == []  # no entry, no half-written one
    with pytest.warns(UserWarning, match="kept in memory"):  # nothing cached: trains again, loads no junk
        _, trained_again = get_or_train(spec, store)
    assert trained_again
