"""The face-off's measurements and the symbols' fine-tune, on tiny models: every family measured the
same way, one contender per family, percentiles of reconstruction errors, a fine-tune that learns the
symbols without touching the model it started from, and fine-tunes run as jobs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aecore.configs import TrainConfig
from aecore.errors import ConfigError
from aecore.faceoff import faceoff_row, pick_contenders
from aecore.jobs import DONE, JobRegistry
from aecore.metrics import neighbour_accuracy, reconstruction_errors, reconstruction_metrics
from aecore.runs import TrainedModel, describe_run, train_spec
from aecore.spec import make_spec
from aecore.store import StoredModel
from aecore.symbols import (
    error_percentiles,
    fine_tune,
    fine_tune_config,
    fine_tune_key,
    fine_tune_set,
    isolation_percentiles,
)
from tests.conftest import SMALL_CONFIGS


def _stored(family, data, epochs=1, **settings) -> StoredModel:
    spec = make_spec(family, "mnist-sample", **{**SMALL_CONFIGS[family], **settings}, epochs=epochs)
    result = train_spec(spec, data, device="cpu")
    result.model.eval()
    return StoredModel(key=spec.key(data.fingerprint), model=result.model, meta=describe_run(spec, data, result))


def _stars(n=12, seed=0) -> np.ndarray:
    """`n` hollow squares with a little jitter: nothing like a digit."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.float32)
    for i in range(n):
        a, b = 4 + rng.integers(0, 3), 22 + rng.integers(0, 3)
        out[i, a:b, a:a + 3] = out[i, a:b, b - 3:b] = out[i, a:a + 3, a:b] = out[i, b - 3:b, a:b] = 1.0
    return out


# ---- measuring ------------------------------------------------------------------------------------

def test_neighbour_accuracy_votes_among_the_nearest_and_breaks_ties_by_nearness():
    train = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    labels = np.array([0, 0, 0, 1, 1])
    assert neighbour_accuracy(train, labels, np.array([[0.5], [10.5]]), np.array([0, 1]), k=3) == 1.0
    # k=2 at 9.0: one neighbour of each class; the nearer (10.0, class 1) wins the tie
    assert neighbour_accuracy(train, labels, np.array([[9.0]]), np.array([1]), k=2) == 1.0
    assert neighbour_accuracy(train, labels, np.array([[9.0]]), np.array([1]), k=5) == 0.0  # three 0s outvote
    with pytest.raises(ConfigError):
        neighbour_accuracy(train, labels, train, labels, k=6)


def test_reconstruction_errors_average_to_the_per_pixel_cross_entropy(tiny_data):
    stored = _stored("ae", tiny_data)
    errors = reconstruction_errors(stored.model, tiny_data.x_test)
    assert errors.shape == (len(tiny_data.x_test),) and (errors > 0).all()
    assert errors.mean() == pytest.approx(reconstruction_metrics(stored.model, tiny_data.x_test)["bce"], rel=1e-5)


def test_a_faceoff_row_measures_a_vae_by_its_reconstruction_not_its_elbo(tiny_data):
    vae = _stored("vae", tiny_data, epochs=2)
    row = faceoff_row(vae, tiny_data)
    assert row["family"] == "vae" and row["code_dim"] == 2 and row["epochs"] == 2
    assert row["bce"] == pytest.approx(reconstruction_metrics(vae.model, tiny_data.x_test)["bce"])
    assert row["bce"] < vae.meta["final"]["test"]["loss"] / 784, "its own loss adds the KL term"
    assert 0.2 < row["probe_accuracy"] <= 1 and 0.2 < row["knn_accuracy"] <= 1, "better than chance (0.1)"
    assert row["train_seconds"] == vae.meta["seconds"] > 0


def test_one_contender_per_family_with_the_seed_preferring_the_lecture_model():
    def meta(key, family, seed=0, finished=0.0):
        return {"key": key, "finished": finished, "spec": {"family": family, "train": {"seed": seed}}}

    metas = [meta("a-old", "ae", finished=1), meta("a-new", "ae", finished=2), meta("a-lecture", "ae", finished=0),
             meta("v-seed1", "vae", seed=1), meta("d", "dae", finished=5), meta("x", "nonsense")]
    picked = pick_contenders(metas, seed=0, preferred=["a-lecture"])
    assert {f: m["key"] for f, m in picked.items()} == {"ae": "a-lecture", "dae": "d"}
    assert list(picked) == ["ae", "dae"], "in the registry's order"
    assert pick_contenders(metas, seed=0)["ae"]["key"] == "a-new", "no lecture model: the newest"
    assert list(pick_contenders(metas, seed=1)) == ["vae"]


# ---- the symbols ------------------------------------------------------------------------------------

def test_percentiles_place_errors_among_the_reference():
    reference = np.arange(1.0, 101.0)  # 1 .. 100
    assert error_percentiles([0.5, 50.5, 1000.0], reference).tolist() == [0.0, 50.0, 100.0]
    assert error_percentiles([50.0], reference)[0] == pytest.approx(49.5), "a tie counts half"


def test_isolation_measures_the_distance_to_the_nearest_digit_among_the_digits_own():
    digits = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0]])  # nearest-other distances 1, 1, 2, 3
    symbols = np.array([[0.5, 0.0], [6.0, 2.5], [20.0, 0.0]])  # 0.5, 2.5 and 14 from the nearest digit
    assert isolation_percentiles(symbols, digits).tolist() == [0.0, 75.0, 100.0]
    assert isolation_percentiles(symbols * 10, digits * 10).tolist() == [0.0, 75.0, 100.0], "scale-free"


def test_the_fine_tune_set_repeats_the_symbols_to_their_share(tiny_data):
    tuned = fine_tune_set(tiny_data, _stars(10), digits=300, share=0.25)
    symbols = tuned.y_train == 10
    assert (~symbols).sum() == 300 and symbols.sum() == 100  # 10 symbols x 10: a quarter of 400
    assert tuned.class_names[-1] == "symbol" and tuned.x_test is tiny_data.x_test
    with pytest.raises(ConfigError):
        fine_tune_set(tiny_data, _stars(0), digits=300)


def test_a_fine_tune_continues_the_models_optimiser_always_shuffled():
    dA = TrainConfig(epochs=15, batch_size=20, lr=0.1, optimizer="sgd", shuffle=False)  # the dA recipe's order
    assert fine_tune_config(dA, 3) == TrainConfig(epochs=3, batch_size=20, lr=0.1, optimizer="sgd", shuffle=True)


def test_a_fine_tune_learns_the_symbols_and_leaves_the_shared_model_alone(tiny_data):
    base = _stored("ae", tiny_data, epochs=2)
    before = {k: v.clone() for k, v in base.model.state_dict().items()}
    stars = _stars()
    cfg = TrainConfig(epochs=3, seed=0)
    result = fine_tune(base.model, "ae", tiny_data, stars, cfg, digits=400)
    assert result.model is not base.model and not result.stopped_early
    assert all(torch.equal(before[k], v) for k, v in base.model.state_dict().items()), "the shared model changed"
    old, new = reconstruction_errors(base.model, stars), reconstruction_errors(result.model, stars)
    assert new.mean() < 0.8 * old.mean(), (old.mean(), new.mean())
    reference = reconstruction_errors(result.model, tiny_data.x_test)
    assert np.median(error_percentiles(new, reference)) < np.median(
        error_percentiles(old, reconstruction_errors(base.model, tiny_data.x_test))), "less unusual after"
    with pytest.raises(ConfigError, match="classifier"):
        fine_tune(base.model, "stacked", tiny_data, stars, cfg)


def test_a_fine_tune_runs_as_a_job_with_progress(tiny_data, tmp_path):
    base = _stored("ae", tiny_data)
    stars = _stars()
    cfg = TrainConfig(epochs=2, seed=0)
    key = fine_tune_key(base.key, stars, cfg, 300, 0.1)
    assert key == fine_tune_key(base.key, stars.copy(), cfg, 300, 0.1) != fine_tune_key(base.key, stars[1:], cfg,
                                                                                          300, 0.1)

    def work(callbacks, on_trainer):
        result = fine_tune(base.model, "ae", tiny_data, stars, cfg, digits=300, callbacks=callbacks,
                           on_trainer=on_trainer)
        return TrainedModel(StoredModel(key, result.model, {"label": "tuned"}), result.stopped_early)

    from aecore.store import ModelStore
    registry = JobRegistry(ModelStore(tmp_path / "store"))
    job = registry.submit_task(key, base.spec, work, title="ae with your symbols", owner="me")
    assert registry.submit_task(key, base.spec, work, title="again", owner="me") is job, "a second ask joins it"
    assert job.wait(60) and job.state == DONE, job.error
    assert job.title == "ae with your symbols" and len(job.epochs()) == 2
    assert job.result.model is not base.model and not registry.store.keys(), "kept in memory, not stored"
