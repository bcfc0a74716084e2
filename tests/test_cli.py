"""Tests of `python -m aecore`, run as a subprocess the way a user runs it: `train --json` output,
store hits on a second run, stacked accuracies, `info` and `list`, and one-line errors with exit
code 2 for bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 180
REPO = Path(__file__).resolve().parents[1]
AE_ARGS = ["train", "--model", "ae", "--dataset", "mnist-sample", "--epochs", "1", "--hidden", "64", "16", "--json"]
TRAIN_KEYS = {"key", "dataset", "model", "config", "epochs", "seconds", "samples_per_s", "train", "val", "test"}


def cli_env(home: Path) -> dict:
    # One thread: the subprocesses share the test machine's cores with each other and with pytest.
    return {**os.environ, "AECORE_HOME": str(home), "OMP_NUM_THREADS": "1"}


def start(args: list[str], home: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aecore", *args], env=cli_env(home), cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{proc.args} ran past {TIMEOUT}s\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_cli(args: list[str], home: Path) -> subprocess.CompletedProcess:
    return finish(start(args, home))


def last_json(proc: subprocess.CompletedProcess):
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory) -> Path:
    """One AECORE_HOME for the module, so a second run can find the first one's model."""
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="module")
def first_ae_run(cli_home):
    return last_json(run_cli(AE_ARGS, cli_home))


# ---- train -------------------------------------------------------------------------------------------

def test_train_json_summary(first_ae_run):
    out = first_ae_run
    assert TRAIN_KEYS | {"from_store"} <= set(out)
    assert out["from_store"] is False
    assert len(out["key"]) == 20 and out["dataset"] == "mnist-sample" and out["model"] == "ae"
    assert out["epochs"] == 1 and out["config"]["model"]["hidden"] == [64, 16]
    assert out["config"]["family"] == "ae" and out["config"]["train"]["epochs"] == 1
    assert out["seconds"] > 0 and out["samples_per_s"] > 0
    for split in ("train", "val", "test"):
        assert set(out[split]) == {"loss", "recon"} and out[split]["loss"] > 0


def test_second_run_comes_from_the_store(first_ae_run, cli_home):
    proc = run_cli(AE_ARGS, cli_home)
    out = last_json(proc)
    assert out["from_store"] is True
    assert out["key"] == first_ae_run["key"] and out["test"] == first_ae_run["test"]
    assert "loaded" in proc.stderr


def test_list_json_shows_the_trained_model(first_ae_run, cli_home):
    rows = last_json(run_cli(["list", "--json"], cli_home))
    assert [r["key"] for r in rows] == [first_ae_run["key"]]
    assert rows[0]["dataset"] == "mnist-sample" and rows[0]["test"] == first_ae_run["test"]
    assert rows[0]["label"] == "ae 64-16"


def test_info_json(first_ae_run, cli_home):
    info = last_json(run_cli(["info", "--json"], cli_home))
    assert info["dataset"] == "mnist-sample"  # full MNIST is not in this fresh home
    assert Path(info["model_dir"]) == cli_home / "models"
    assert Path(info["data_dir"]) == cli_home
    assert info["cached_models"] == 1 and info["device"]


@pytest.mark.slow  # trains the stacked model in a subprocess
def test_stacked_json_reports_both_accuracies(tmp_path):
    args = ["train", "--model", "stacked", "--dataset", "mnist-sample", "--epochs", "1", "--hidden", "64", "32",
            "--levels", "0.1", "0.2", "--pretrain-epochs", "1", "--json"]
    out = last_json(run_cli(args, tmp_path))
    assert out["config"]["model"]["levels"] == [0.1, 0.2] and out["config"]["model"]["pretrain_epochs"] == 1
    for name in ("finetune_test_accuracy", "random_init_test_accuracy"):
        assert 0.0 <= out[name] <= 1.0
    assert out["finetune_test_accuracy"] > 0.2  # chance is 0.1


def test_plain_output_without_json(first_ae_run, cli_home):
    proc = run_cli(AE_ARGS[:-1], cli_home)
    assert proc.returncode == 0
    assert proc.stdout.startswith(first_ae_run["key"]) and "test loss" in proc.stdout


# ---- errors ------------------------------------------------------------------------------------------

ERRORS = {
    "unknown model": ["train", "--model", "nope", "--dataset", "mnist-sample"],
    "level out of range": ["train", "--model", "dae", "--level", "2", "--dataset", "mnist-sample"],
    "negative learning rate": ["train", "--lr", "-1", "--dataset", "mnist-sample"],
    "missing dataset path": ["train", "--dataset", "/no/such/dir/digits.npz"],
    "bad flag": ["train", "--no-such-flag"],
    "setting of another family": ["train", "--model", "ae", "--pretrain-epochs", "1", "--dataset", "mnist-sample"],
    "sparsity target of 1e-300": ["train", "--model", "sparse", "--sparsity-target", "1e-300", "--dataset",
                                  "mnist-sample"],
    "fewer than 10 training images": ["train", "--dataset", "{data}/few.npz"],
    "a label of 10**12": ["train", "--dataset", "{data}/huge-label.npz"],
    "a uint64 label of 2**63": ["train", "--dataset", "{data}/uint64-label.npz"],
    "gzip IDX declaring 2.1 G values": ["train", "--dataset", "{data}/idx-bomb"],
}


def _write_bad_data(folder: Path) -> None:
    import gzip

    import numpy as np
    images = np.zeros((40, 28, 28), np.uint8)
    np.savez(folder / "few.npz", x_train=images[:7], y_train=np.arange(7), x_test=images[:3], y_test=np.arange(3))
    np.savez(folder / "huge-label.npz", x_train=images, y_train=np.full(40, 10**12), x_test=images[:3],
             y_test=np.arange(3))
    np.savez(folder / "uint64-label.npz", x_train=images, y_train=np.full(40, 2**63, np.uint64),
             x_test=images[:3], y_test=np.arange(3))
    bomb = folder / "idx-bomb"
    bomb.mkdir()
    for name, shape in [("train-images-idx3-ubyte", (2_700_000, 28, 28)), ("train-labels-idx1-ubyte", (40,)),
                        ("t10k-images-idx3-ubyte", (3, 28, 28)), ("t10k-labels-idx1-ubyte", (3,))]:
        header = bytes([0, 0, 8, len(shape)]) + np.array(shape, ">u4").tobytes()
        (bomb / f"{name}.gz").write_bytes(gzip.compress(header + bytes(min(int(np.prod(shape)), 2**20))))


@pytest.fixture(scope="module")
def error_runs(tmp_path_factory):
    """Every bad command line, started at once (they only parse, so they are cheap in parallel)."""
    home = tmp_path_factory.mktemp("cli-errors")
    _write_bad_data(home)
    procs = {name: start([a.format(data=home) for a in args], home) for name, args in ERRORS.items()}
    return {name: finish(proc) for name, proc in procs.items()}


@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_exits_2_with_one_line(case, error_runs):
    proc = error_runs[case]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error:" in lines[0]
    assert proc.stdout == ""


def test_error_messages_name_the_problem(error_runs):
    assert "nope" in error_runs["unknown model"].stderr
    assert "corruption level" in error_runs["level out of range"].stderr
    assert "learning rate" in error_runs["negative learning rate"].stderr
    assert "pretrain_epochs" in error_runs["setting of another family"].stderr
    assert "no-such-flag" in error_runs["bad flag"].stderr
    assert "digits.npz" in error_runs["missing dataset path"].stderr
    assert "sparsity target" in error_runs["sparsity target of 1e-300"].stderr
    assert "7 training images; at least 10" in error_runs["fewer than 10 training images"].stderr
    assert "from 0 to 999" in error_runs["a label of 10**12"].stderr
    assert "from 0 to 999" in error_runs["a uint64 label of 2**63"].stderr
    assert "2,116,800,000 values), more than" in error_runs["gzip IDX declaring 2.1 G values"].stderr


def test_stacked_head_is_sized_by_the_data_s_classes(tmp_path):
    import numpy as np
    rng = np.random.default_rng(0)
    path = tmp_path / "twelve.npz"
    np.savez(path, x_train=rng.integers(0, 256, (120, 28, 28), np.uint8), y_train=np.arange(120) % 12,
             x_test=rng.integers(0, 256, (24, 28, 28), np.uint8), y_test=np.arange(24) % 12)
    args = ["train", "--model", "stacked", "--dataset", str(path), "--epochs", "1", "--hidden", "16", "8",
            "--levels", "0.1", "0.2", "--pretrain-epochs", "1", "--json"]
    out = last_json(run_cli(args, tmp_path))
    assert out["config"]["model"]["num_classes"] == 12
    assert 0.0 <= out["finetune_test_accuracy"] <= 1.0


def test_list_skips_a_corrupt_entry_with_one_warning_line(tmp_path, tiny_data):
    from aecore.runs import describe_run, train_spec
    from aecore.spec import make_spec
    from aecore.store import META, WEIGHTS, ModelStore
    spec = make_spec("ae", "mnist-tiny", epochs=1, hidden=(16, 4))
    result = train_spec(spec, tiny_data, device="cpu")
    good = spec.key(tiny_data.fingerprint)
    ModelStore(tmp_path / "models").save(good, result.model, describe_run(spec, tiny_data, result))
    bad = tmp_path / "models" / ("f" * 20)
    bad.mkdir()
    (bad / META).write_text("[" * 200_000)  # RecursionError in json's parser
    (bad / WEIGHTS).write_bytes(b"not safetensors")
    for args in (["list"], ["list", "--json"]):
        proc = run_cli(args, tmp_path)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("warning:") and "f" * 20 in lines[0], proc.stderr
        assert good in proc.stdout and "f" * 20 not in proc.stdout
