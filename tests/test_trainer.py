"""Tests of the trainer: what callbacks receive, stopping (callback, another thread), the divergence
guard, probe snapshots, and seeded reproducibility."""
from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest.mock import Mock

import numpy as np
import pytest
import torch
from conftest import SMALL_CONFIGS

from aecore.configs import FAMILIES
from aecore.device import OtherProcessesCpu, training_threads
from aecore.errors import DivergenceError
from aecore.models import build_model
from aecore.runs import train_spec
from aecore.spec import make_spec
from aecore.trainer import PROBE_SIZE, DivergenceGuard, Progress, TrainConfig, Trainer


def trainer_for(family, data, seed=0, callbacks=None, model_overrides=None, **train):
    torch.manual_seed(seed)
    model = build_model(family, {**SMALL_CONFIGS[family], **(model_overrides or {})})
    return Trainer(model, data, TrainConfig(seed=seed, **train), device="cpu", callbacks=callbacks)


def progress_args(mock: Mock) -> list[Progress]:
    return [c.args[0] for c in mock.call_args_list]


# ---- callbacks --------------------------------------------------------------------------------------

def test_callbacks_receive_progress_with_increasing_steps(tiny_data):
    on_batch, on_epoch = Mock(return_value=None), Mock(return_value=None)
    trainer = trainer_for("ae", tiny_data, epochs=3, batch_size=100,
                          callbacks={"on_batch_end": [on_batch], "on_epoch_end": [on_epoch]})
    result = trainer.run()
    steps = math.ceil(len(tiny_data.x_train) / 100)  # 6, the last batch short
    batches, epochs = progress_args(on_batch), progress_args(on_epoch)
    assert len(batches) == 3 * steps and len(epochs) == 3
    assert [p.global_step for p in batches] == list(range(1, 3 * steps + 1))
    for p in batches:
        assert isinstance(p, Progress) and p.event == "batch" and p.stage == "train" and p.stage_index == 0
        assert p.steps == steps and 1 <= p.step <= steps and p.epochs == 3 and 1 <= p.epoch <= 3
        assert p.total_steps == 3 * steps
        assert p.samples_per_s > 0 and p.elapsed_s >= 0 and p.eta_s >= 0
        assert set(p.train) == {"loss", "recon"} and math.isfinite(p.train["loss"])
        assert p.val is None
    assert [(p.epoch, p.step) for p in batches[:steps + 1]] == [(1, s) for s in range(1, steps + 1)] + [(2, 1)]
    assert batches[-1].fraction == 1.0 and batches[-1].eta_s == 0
    assert [p.epoch for p in epochs] == [1, 2, 3]
    for p in epochs:
        assert p.event == "epoch" and p.step == steps and p.global_step == p.epoch * steps
        assert set(p.val) == {"loss", "recon"} and p.val["loss"] > 0
    assert epochs[-1].val["loss"] < epochs[0].val["loss"]
    # The epoch-end train loss is the mean over the epoch, i.e. the last batch snapshot's running mean.
    assert epochs[0].train["loss"] == pytest.approx(batches[steps - 1].train["loss"])
    assert [p.to_dict() for p in epochs] == result.history
    assert result.final["train"] == result.history[-1]["train"] and result.final["val"] == result.history[-1]["val"]
    assert not result.stopped_early


def test_stacked_reports_every_stage_in_order(tiny_data):
    on_epoch = Mock(return_value=None)
    trainer = trainer_for("stacked", tiny_data, epochs=2, batch_size=128, callbacks={"on_epoch_end": [on_epoch]})
    result = trainer.run()
    seen = [(p.stage_index, p.stage, p.epoch) for p in progress_args(on_epoch)]
    assert seen == [(0, "pretrain layer 1", 1), (1, "pretrain layer 2", 1), (2, "fine-tune", 1),
                    (2, "fine-tune", 2), (3, "random init", 1), (3, "random init", 2)]
    steps = math.ceil(len(tiny_data.x_train) / 128)
    assert all(p.total_steps == 6 * steps for p in progress_args(on_epoch))
    assert set(progress_args(on_epoch)[2].train) == {"loss", "xent", "accuracy", "error"}
    assert len(result.history) == 6
    # The final figures are the fine-tuned model's, not those of the random-init baseline trained last.
    assert result.final["train"] == result.history[3]["train"] != result.history[5]["train"]
    assert result.final["val"] == result.history[3]["val"]
    assert set(result.final["test"]) == {"loss", "recon"}


def test_add_callback_after_construction(tiny_data):
    trainer = trainer_for("ae", tiny_data, epochs=1)
    seen = []
    trainer.add_callback("on_epoch_end", seen.append)
    trainer.run()
    assert len(seen) == 1 and seen[0].event == "epoch"


# ---- stopping -----------------------------------------------------------------------------------------

def test_batch_callback_returning_true_stops_and_returns_the_model(tiny_data):
    on_batch = Mock(side_effect=lambda p: p.global_step == 3)
    on_epoch = Mock(return_value=None)
    trainer = trainer_for("ae", tiny_data, epochs=5, batch_size=32,
                          callbacks={"on_batch_end": [on_batch], "on_epoch_end": [on_epoch]})
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run()
    assert result.stopped_early
    assert on_batch.call_count == 3
    assert result.model is trainer.model
    assert any(not torch.equal(before[k], v) for k, v in result.model.state_dict().items())  # 3 steps taken
    # The interrupted epoch is still reported once, with what it saw.
    assert len(result.history) == 1 and result.history[0]["step"] == 3
    assert on_epoch.call_count == 1
    assert result.final["test"]["loss"] > 0


def test_epoch_callback_returning_true_stops_after_that_epoch(tiny_data):
    on_epoch = Mock(side_effect=[None, True, None, None])
    result = trainer_for("vae", tiny_data, epochs=4, callbacks={"on_epoch_end": [on_epoch]}).run()
    assert result.stopped_early
    assert on_epoch.call_count == 2 and len(result.history) == 2
    assert len(result.probe.snapshots) == 2


def test_stop_ends_every_remaining_stage(tiny_data):
    on_epoch = Mock(side_effect=lambda p: p.stage == "pretrain layer 1")
    result = trainer_for("stacked", tiny_data, epochs=2, callbacks={"on_epoch_end": [on_epoch]}).run()
    assert result.stopped_early
    assert [h["stage"] for h in result.history] == ["pretrain layer 1"]


def test_request_stop_from_another_thread(tiny_data):
    started, stop_sent = threading.Event(), threading.Event()

    def hold_first_batch(progress):
        if progress.global_step == 1:
            started.set()
            assert stop_sent.wait(10)

    trainer = trainer_for("ae", tiny_data, epochs=500, batch_size=16,
                          callbacks={"on_batch_end": [hold_first_batch]})

    def stopper():
        if started.wait(10):
            trainer.request_stop()
        stop_sent.set()

    thread = threading.Thread(target=stopper)
    thread.start()
    t0 = time.perf_counter()
    result = trainer.run()
    thread.join(10)
    assert result.stopped_early
    assert result.history[-1]["global_step"] == 1  # stopped right after the batch in flight
    assert time.perf_counter() - t0 < 10


def test_stop_requested_before_run_trains_nothing(tiny_data):
    trainer = trainer_for("ae", tiny_data, epochs=3)
    trainer.request_stop()
    result = trainer.run()
    assert result.stopped_early and result.history == [] and result.probe.snapshots == []
    assert result.final["train"] == {} and "loss" in result.final["test"]


# ---- divergence ------------------------------------------------------------------------------------

def test_divergence_raises_with_advice_about_the_learning_rate(tiny_data):
    # ReLU + summed BCE + SGD at lr 10: the weights blow up within the first epoch.
    trainer = trainer_for("ae", tiny_data, epochs=3, optimizer="sgd", lr=10.0)
    with pytest.raises(DivergenceError) as info:
        trainer.run()
    message = str(info.value)
    assert "learning rate" in message and "10" in message and "epoch 1" in message
    assert "\n" not in message


def test_adam_at_lr_10_explodes_without_nan_and_is_still_caught(tiny_data):
    # Adam's normalised steps keep the loss finite but astronomically large: garbage, not a model.
    trainer = trainer_for("ae", tiny_data, epochs=3, optimizer="adam", lr=10.0)
    with pytest.raises(DivergenceError, match="learning rate"):
        trainer.run()


@pytest.mark.parametrize("family", FAMILIES)
def test_default_learning_rate_never_trips_the_guard(family, tiny_data):
    result = trainer_for(family, tiny_data, epochs=2).run()
    assert all(math.isfinite(h["train"]["loss"]) for h in result.history)


def test_divergence_is_caught_at_the_first_bad_batch(tiny_data):
    losses = []
    trainer = trainer_for("ae", tiny_data, epochs=3, optimizer="sgd", lr=10.0,
                          callbacks={"on_batch_end": [lambda p: losses.append(p.train["loss"])]})
    with pytest.raises(DivergenceError):
        trainer.run()
    assert losses and all(math.isfinite(v) for v in losses)  # no callback ever saw a non-finite loss


def test_divergence_guard_measures_against_the_stage_first_batch():
    guard = DivergenceGuard(TrainConfig(lr=0.5, optimizer="sgd"), "fine-tune")
    guard.check(torch.tensor(2.0), epoch=1, step=0)
    guard.check(torch.tensor(150.0), epoch=1, step=1)  # 75x the first loss: still training
    with pytest.raises(DivergenceError, match=r"in fine-tune, epoch 2, batch 4\).*try 0.05\), use Adam"):
        guard.check(torch.tensor(201.0), epoch=2, step=3)
    with pytest.raises(DivergenceError, match="became nan"):
        DivergenceGuard(TrainConfig(), "train").check(torch.tensor(float("nan")), epoch=1, step=0)


def test_smallest_allowed_sparsity_target_trains(tiny_data):
    from aecore.configs import MIN_SPARSITY_TARGET
    result = trainer_for("sparse", tiny_data, epochs=1, model_overrides={"sparsity_target": MIN_SPARSITY_TARGET}).run()
    assert math.isfinite(result.final["test"]["loss"])


# ---- memory ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family, settings", [
    ("ae", {"hidden": (8192,) * 6}),  # 683 M parameters
    ("conv_vae", {"filters": 256, "dense": 4096, "latent": 1024}),
])
def test_a_run_that_cannot_fit_in_memory_is_refused_before_anything_is_allocated(family, settings, tiny_data,
                                                                                  monkeypatch):
    import resource

    import aecore.memory
    import aecore.models
    from aecore.errors import ConfigError
    monkeypatch.setattr(aecore.memory, "available_bytes", lambda device=None: 8 * 10**9)  # a laptop, 8 GB free
    real_build = aecore.models.build_model

    def build_on_meta_only(*args, **kwargs):  # the estimate builds on the meta device; training may not start
        assert torch.empty(0).device.type == "meta", "a model was built for training"
        return real_build(*args, **kwargs)

    monkeypatch.setattr(aecore.models, "build_model", build_on_meta_only)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ConfigError, match=r"needs about [\d.]+ GB to train .* more than the 4.0 GB") as info:
        train_spec(make_spec(family, "mnist-tiny", **settings), tiny_data, device="cpu")
    assert "\n" not in str(info.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB


@pytest.mark.parametrize("family", FAMILIES)
def test_default_models_fit_a_small_machine(family, monkeypatch):
    import aecore.memory
    from aecore.memory import check_training_fits, training_bytes
    default_bytes = training_bytes(make_spec(family), 70_000)
    assert training_bytes(make_spec(family, batch_size=65536), 70_000, 55_000) > default_bytes
    monkeypatch.setattr(aecore.memory, "available_bytes", lambda device=None: 2 * 10**9)
    check_training_fits(make_spec(family), 70_000, 55_000)  # full MNIST, default settings: well under 1 GB


# ---- probe snapshots -------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_one_probe_snapshot_per_epoch(family, tiny_data):
    result = trainer_for(family, tiny_data, epochs=2).run()
    probe = result.probe
    n = min(PROBE_SIZE, len(tiny_data.x_test))
    # Every epoch of every stage except stacked's random-init baseline (one pretraining epoch per layer).
    expected = 2 + (len(SMALL_CONFIGS["stacked"]["hidden"]) if family == "stacked" else 0)
    assert len(probe.snapshots) == len(probe.snapshot_names) == expected
    assert all(s.shape == (n, 2) and s.dtype == np.float32 and np.isfinite(s).all() for s in probe.snapshots)
    assert probe.indices.shape == (n,) and len(set(probe.indices.tolist())) == n
    assert np.array_equal(probe.labels, tiny_data.y_test[probe.indices])
    assert (probe.projection is not None) == (result.model.code_dim > 2)
    assert probe.to_dict()["reduced_with_pca"] == (result.model.code_dim > 2)
    assert probe.snapshot_names[-1].endswith(" 2")


def test_probe_uses_pca_fitted_on_the_first_epoch(tiny_data):
    result = trainer_for("ae", tiny_data, epochs=3).run()  # 16-d codes
    first = result.probe.snapshots[0].astype(np.float64)
    assert np.allclose(first.mean(axis=0), 0, atol=1e-3)  # centred on the first epoch's mean
    cov = np.cov(first.T)
    assert abs(cov[0, 1]) < 1e-3 * cov[0, 0]  # principal axes are uncorrelated
    assert cov[0, 0] >= cov[1, 1]
    mean, components = result.probe.projection
    assert mean.shape == (16,) and components.shape == (16, 2)
    # Later epochs reuse those axes: recompute the last snapshot from the trained encoder.
    x = torch.tensor(tiny_data.x_test[result.probe.indices].reshape(-1, 784), dtype=torch.float32) / 255
    with torch.no_grad():
        codes = result.model.eval().encode(x).numpy()
    assert np.allclose((codes - mean) @ components, result.probe.snapshots[-1], atol=1e-4)


def test_probe_of_a_two_d_code_is_the_code_itself(tiny_data):
    result = trainer_for("vae", tiny_data, epochs=1).run()
    x = torch.tensor(tiny_data.x_test[result.probe.indices].reshape(-1, 784), dtype=torch.float32) / 255
    with torch.no_grad():
        codes = result.model.eval().encode(x).numpy()
    assert np.allclose(codes, result.probe.snapshots[0], atol=1e-6)


def test_probe_of_a_one_d_code_is_padded(tiny_data):
    result = trainer_for("vae", tiny_data, epochs=1, model_overrides={"latent": 1}).run()
    snapshot = result.probe.snapshots[0]
    assert snapshot.shape[1] == 2 and np.all(snapshot[:, 1] == 0) and snapshot[:, 0].std() > 0


def test_probe_keeps_at_most_probe_size_digits(tiny_data):
    from aecore.data import Dataset
    from aecore.data.datasets import _fingerprint
    reps = -(-(PROBE_SIZE + 1) // len(tiny_data.x_test))
    arrays = {"x_train": tiny_data.x_train, "y_train": tiny_data.y_train, "x_val": tiny_data.x_val,
              "y_val": tiny_data.y_val, "x_test": np.concatenate([tiny_data.x_test] * reps),
              "y_test": np.concatenate([tiny_data.y_test] * reps)}
    big = Dataset(name="big-test", description="", class_names=tiny_data.class_names,
                  fingerprint=_fingerprint(arrays), **arrays)
    probe = Trainer(build_model("vae", SMALL_CONFIGS["vae"]), big, TrainConfig(epochs=1), device="cpu").probe
    assert len(probe.indices) == PROBE_SIZE
    assert np.all(np.diff(probe.indices) > 0) and probe.indices[-1] < len(arrays["x_test"])


# ---- reproducibility -------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["dae", "vae", "stacked"])  # corruption, sampling, several stages
def test_same_seed_same_weights_other_seed_other_weights(family, tiny_data):
    def weights(seed):
        spec = make_spec(family, epochs=2, seed=seed, **SMALL_CONFIGS[family])
        return train_spec(spec, tiny_data, device="cpu").model.state_dict()

    a, b, c = weights(1), weights(1), weights(2)
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_same_seed_same_history(tiny_data):
    def losses(seed):
        return [h["val"]["loss"] for h in train_spec(make_spec("dae", epochs=2, seed=seed, **SMALL_CONFIGS["dae"]),
                                                     tiny_data, device="cpu").history]

    assert losses(3) == losses(3) != losses(4)


# ---- devices ----------------------------------------------------------------------------------------
# The CUDA path is the same code as the CPU one with another device and autocast switched on; the CPU
# tests above run all of it but the autocast, unless the CPU has bfloat16 in hardware (then autocast is
# on there too). The GPU check below runs only where CUDA is present.

def test_cpu_training_keeps_every_tensor_on_the_cpu_with_autocast_only_on_native_bf16(tiny_data):
    from aecore.device import CPU_BF16, autocast_dtype, pick_device

    trainer = trainer_for("ae", tiny_data, epochs=1)
    # Emulated bfloat16 is slower than float32 for these small MLPs; in hardware it is faster.
    assert autocast_dtype(trainer.device) is (torch.bfloat16 if CPU_BF16 else None)
    assert {trainer.x_train.device.type, trainer.x_test.device.type, trainer.record_probe.x.device.type} == {"cpu"}
    assert pick_device("cpu").type == "cpu"


@pytest.mark.parametrize("caps, native", [({"avx512_bf16": True, "amx_bf16": False}, True),
                                         ({"avx512_bf16": False, "amx_bf16": True}, True),
                                         ({"avx512_bf16": False, "amx_bf16": False, "avx2": True}, False),
                                         ({"neon": True}, False), (RuntimeError("no cpuinfo"), False)])
def test_native_bf16_is_read_from_torch_public_cpu_capabilities(monkeypatch, caps, native):
    from aecore.device import _cpu_has_native_bf16

    def capabilities():
        if isinstance(caps, Exception):
            raise caps
        return caps

    monkeypatch.setattr(torch.cpu, "get_capabilities", capabilities)
    assert _cpu_has_native_bf16() is native


@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("family", ["ae", "vae"])
def test_cpu_training_in_float32_and_in_bfloat16_autocast_learns(tiny_data, monkeypatch, family, bf16):
    """Both CPU paths, whatever this CPU has: bfloat16 autocast is forced on or off (emulated
    bfloat16 is slow, but the same code). Weights, losses and codes stay float32 either way."""
    import aecore.device

    monkeypatch.setattr(aecore.device, "CPU_BF16", bf16)
    trainer = trainer_for(family, tiny_data, epochs=3, lr=3e-3)
    result = trainer.run()
    losses = [h["train"]["loss"] for h in result.history]  # one entry per epoch
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0], losses
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}
    with torch.no_grad():
        x = torch.as_tensor(tiny_data.x_test[:8], dtype=torch.float32).reshape(8, -1) / 255
        assert result.model.encode(x).dtype == torch.float32


def test_asking_for_a_missing_gpu_is_a_clear_error():
    from aecore.device import pick_device
    from aecore.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("family", ["ae", "vae", "conv_vae"])
def test_cuda_training_keeps_the_data_on_the_gpu_with_mixed_precision(family, tiny_data):
    from aecore.device import autocast_dtype

    torch.manual_seed(0)
    model = build_model(family, SMALL_CONFIGS[family])
    trainer = Trainer(model, tiny_data, TrainConfig(epochs=2, seed=0), device="cuda")
    assert trainer.x_train.is_cuda and trainer.y_train.is_cuda and trainer.x_test.is_cuda
    assert autocast_dtype(trainer.device) in (torch.bfloat16, None)
    result = trainer.run()
    assert next(result.model.parameters()).is_cuda
    assert all(math.isfinite(h["train"]["loss"]) for h in result.history)
    assert result.history[-1]["train"]["loss"] < result.history[0]["train"]["loss"] * 1.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_a_model_trained_on_the_gpu_comes_back_on_the_cpu_like_a_loaded_one(tiny_npz, store):
    """The dashboard treats a model just trained and one loaded from the store alike; the store
    loads onto the CPU, so a model trained on CUDA is handed back there too."""
    from aecore.jobs import JobRegistry
    from aecore.runs import get_or_train

    fresh, trained = get_or_train(make_spec("ae", str(tiny_npz), epochs=1, **SMALL_CONFIGS["ae"]), store,
                                  device="cuda")
    assert trained and fresh.meta["device"].startswith("cuda")
    assert {p.device.type for p in fresh.model.parameters()} == {"cpu"}
    job = JobRegistry(store, device="cuda").submit(make_spec("vae", str(tiny_npz), epochs=1, **SMALL_CONFIGS["vae"]))
    assert job.wait(120) and job.state == "done", job.error
    assert {p.device.type for p in job.result.model.parameters()} == {"cpu"}


def test_small_batches_run_single_threaded_and_the_thread_count_comes_back():
    from aecore.device import single_threaded

    original = torch.get_num_threads()  # conftest runs the tests on one thread
    torch.set_num_threads(2)
    try:
        with single_threaded():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with single_threaded(enabled=False):
            assert torch.get_num_threads() == 2
        with pytest.raises(ValueError), single_threaded():
            raise ValueError("a failing forward pass")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(original)


# ---- sharing the CPU with other processes ----------------------------------------------------------

@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads Linux's /proc")
def test_other_processes_cpu_counts_another_busy_process_and_not_this_one():
    monitor = OtherProcessesCpu()
    spin_for_3_s = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin_for_3_s])
    try:
        time.sleep(0.5)
        monitor.cores()
        time.sleep(1.0)
        assert monitor.cores() >= 0.6  # the spinning child: about one core
    finally:
        spinner.kill()
        spinner.wait()
    monitor.cores()
    time.sleep(1.0)
    idle = monitor.cores()  # whatever else the machine runs
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # now this process is busy: not counted
        pass
    assert monitor.cores() < idle + 0.5


def test_training_threads_leave_busy_cores_to_other_processes():
    assert training_threads(None, available=2) == 2  # unknown: every core
    assert training_threads(0.1, available=2) == 2  # a browser idling
    assert training_threads(0.8, available=2) == 1
    assert training_threads(1.6, available=8) == 6
    assert training_threads(5.0, available=2) == 1  # at least one


def test_training_that_shares_cores_drops_threads_while_others_are_busy_and_gives_them_back(tiny_data, monkeypatch):
    import aecore.device as device_module

    busy = {"cores": 1.2}
    monkeypatch.setattr(device_module.OtherProcessesCpu, "cores", lambda self: busy["cores"])
    monkeypatch.setattr(device_module, "SHARE_CHECK_S", 0.0)  # look at every batch
    threads_seen = []

    def batch_end(progress):
        threads_seen.append(torch.get_num_threads())
        if len(threads_seen) == 5:
            busy["cores"] = 0.0  # the other process went quiet

    original = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        model = build_model("ae", SMALL_CONFIGS["ae"])
        trainer = Trainer(model, tiny_data, TrainConfig(epochs=1, batch_size=64, seed=0), device="cpu",
                          callbacks={"on_batch_end": [batch_end]}, share_cores=True)
        trainer.run()
        assert threads_seen[:5] == [1] * 5 and set(threads_seen[5:]) == {2}, threads_seen
        assert torch.get_num_threads() == 2  # the training thread's count comes back
        busy["cores"], threads_seen = 1.2, []
        Trainer(model, tiny_data, TrainConfig(epochs=1, batch_size=64, seed=0), device="cpu",
                callbacks={"on_batch_end": [lambda p: threads_seen.append(torch.get_num_threads())]}).run()
        assert set(threads_seen) == {2}  # not sharing: the count is left alone, however busy the others
    finally:
        torch.set_num_threads(original)
