"""The classic recipes, faithful to their sources: each option they need (initialisation schemes, zero
biases, file-order batches, RMSprop, loss averaged over pixels, leaky-ReLU slope, the Keras deconv
layers, per-stage learning rates and early stopping), the dA recipe step by step against a NumPy
implementation of the tutorial written from SEEDS.md, the stacked model's fine-tuning starting from its
pretrained weights, budgets on smaller data, every recipe training one step, and the CLI."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aecore.configs import TrainConfig
from aecore.errors import ConfigError
from aecore.metrics import brightest_pixel_error
from aecore.models import build_model
from aecore.models.base import Stage
from aecore.recipes import RECIPES, comparison, recipe
from aecore.spec import make_spec
from aecore.trainer import EarlyStopping, Trainer, fixed_order
from tests.test_cli import last_json, run_cli


def _subset(data, n_train: int, n_eval: int = 32):
    return SimpleNamespace(x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                           x_val=data.x_val[:n_eval], y_val=data.y_val[:n_eval],
                           x_test=data.x_test[:n_eval], y_test=data.y_test[:n_eval])


def _trainer(model, data, cfg: TrainConfig, **kw) -> Trainer:
    trainer = Trainer(model, data, cfg, device="cpu", **kw)
    trainer.amp = None  # float32 throughout, so the comparisons below are exact up to rounding
    return trainer


# --- the options -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme, bound", [("sigmoid", 4 * math.sqrt(6 / 1284)), ("glorot", math.sqrt(6 / 1284)),
                                           ("sigmoid_mistyped", 4 * math.sqrt(6 / 500 + 784))])
def test_init_schemes_draw_uniform_weights_within_their_bound(scheme, bound):
    torch.manual_seed(0)
    w = build_model("dae", {"init": scheme, "zero_bias": True}).encoder[0].weight  # (500, 784)
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() > 0.99 * bound  # uniform over the whole range, not narrower
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_sigmoid_bound_is_the_tutorials_and_the_mistyped_one_is_112():
    torch.manual_seed(0)
    model = build_model("dae", {"init": "sigmoid", "zero_bias": True})
    assert model.encoder[0].weight.abs().max().item() == pytest.approx(0.2733, abs=5e-4)
    assert torch.count_nonzero(model.encoder[0].bias) == 0
    assert torch.count_nonzero(model.decoder_biases[0]) == 0
    mistyped = build_model("dae", {"init": "sigmoid_mistyped"}).encoder[0].weight.abs().max().item()
    assert mistyped == pytest.approx(112.0, rel=0.01)


def test_torch_init_and_its_random_biases_are_unchanged_by_default():
    torch.manual_seed(3)
    model = build_model("ae")
    torch.manual_seed(3)
    reference = torch.nn.Linear(784, 256)
    assert torch.equal(model.encoder[0].weight, reference.weight)
    assert torch.count_nonzero(model.encoder[0].bias) > 0


def test_mean_reduction_is_the_sum_over_pixels_divided_by_784():
    torch.manual_seed(0)
    x = torch.rand(8, 784)
    summed = build_model("ae", {"recon_loss": "mse"})
    averaged = build_model("ae", {"recon_loss": "mse", "recon_reduction": "mean"})
    averaged.load_state_dict(summed.state_dict())
    assert averaged.loss(x)["loss"].item() == pytest.approx(summed.loss(x)["loss"].item() / 784, rel=1e-5)


def test_leaky_relu_slope_is_a_setting():
    torch.manual_seed(0)
    x = torch.rand(4, 784)
    a = build_model("ae", {"activation": "leaky_relu", "leaky_slope": 0.2}).eval()
    b = build_model("ae", {"activation": "leaky_relu", "leaky_slope": 0.01}).eval()
    b.load_state_dict(a.state_dict())
    h = a.encoder[0](x)
    assert torch.allclose(a.encode(x), a.encoder[1](torch.nn.functional.leaky_relu(h, 0.2)))
    assert not torch.allclose(a.encode(x), b.encode(x))


def test_unshuffled_batches_keep_one_fixed_order_with_the_classes_mixed(tiny_data):
    model = build_model("ae", {"hidden": (16,)})
    seen = []

    def recording_loss(x):
        seen.append(x.clone())
        return type(model).loss(model, x)

    model.loss = recording_loss
    data = _subset(tiny_data, 100)
    grouped = np.concatenate([np.flatnonzero(tiny_data.y_train == c)[:10] for c in range(10)])  # as the sample is
    data.x_train, data.y_train = tiny_data.x_train[grouped], tiny_data.y_train[grouped]
    _trainer(model, data, TrainConfig(epochs=2, batch_size=20, shuffle=False)).run()
    pixels = torch.from_numpy(data.x_train.reshape(100, 784).astype(np.float32) / 255)
    first, second = torch.cat(seen[:5]), torch.cat(seen[6:11])  # each epoch: 5 batches, then one of validation
    assert torch.equal(first, second)  # the same order every epoch
    taken = fixed_order(100, 0)
    assert torch.equal(first, pixels[taken])
    assert len(set(data.y_train[taken[:20].numpy()])) >= 5  # the first batch is not one class
    seen.clear()
    _trainer(model, data, TrainConfig(epochs=2, batch_size=20, shuffle=True)).run()
    assert not torch.equal(torch.cat(seen[:5]), torch.cat(seen[6:11]))  # shuffled: a new order each epoch


def test_rmsprop_is_keras_rmsprop(tiny_data):
    model = build_model("vae", {"hidden": (16,)})
    trainer = _trainer(model, _subset(tiny_data, 20), TrainConfig(optimizer="rmsprop", lr=0.001))
    opt = trainer._optimizer(model.parameters())
    assert isinstance(opt, torch.optim.RMSprop)
    assert (opt.defaults["lr"], opt.defaults["alpha"], opt.defaults["eps"]) == (0.001, 0.9, 1e-7)
    # One step by Keras's rule: a = 0.9 a + 0.1 g², p -= lr g / (√a + ε), a starting at 0.
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = trainer._optimizer([p])
    (p ** 2).sum().backward()
    g = p.grad.clone()
    expected = p.detach() - 0.001 * g / (torch.sqrt(0.1 * g ** 2) + 1e-7)
    opt.step()
    assert torch.allclose(p.detach(), expected)


def test_keras_deconv_vae_has_the_sources_layers_and_3410058_parameters():
    model = build_model("conv_vae", {"layout": "keras", "filters": 64, "dense": 128, "latent": 2})
    assert sum(p.numel() for p in model.parameters()) == 3_410_058
    x = torch.rand(2, 784)
    shapes, h = [], x.view(-1, 1, 28, 28)
    for layer in model.encoder:
        h = layer(h)
        if isinstance(layer, torch.nn.Conv2d):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(1, 28, 28), (64, 14, 14), (64, 14, 14), (64, 14, 14)]
    shapes, h = [], torch.zeros(2, 2)
    for layer in model.decoder:
        h = layer(h)
        if isinstance(layer, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(64, 14, 14), (64, 14, 14), (64, 29, 29), (1, 28, 28)]
    assert model.decode(torch.zeros(3, 2)).shape == (3, 784)


def test_keras_deconv_recipe_starts_with_a_first_layer_that_sees_the_digits(tiny_data):
    """The source's first layer is a single 2x2 ReLU filter: seed 0 draws it all negative, zero for every
    digit, and that VAE never leaves its prior; the recipe's seed draws one that responds."""
    def first_layer_output(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)  # as aecore.runs does before building the model
        model = build_model("conv_vae", spec.model)
        x = torch.tensor(tiny_data.x_test[:50], dtype=torch.float32).view(-1, 1, 28, 28) / 255.0
        return model.encoder[:3](x)  # 'same' padding, conv 2x2, ReLU

    spec, _ = recipe("keras-vae-deconv").spec("mnist-sample")
    assert isinstance(build_model("conv_vae", spec.model).encoder[2], torch.nn.ReLU)
    assert first_layer_output(0).max().item() == 0.0  # dead on every digit
    assert first_layer_output(spec.train.seed).gt(0).float().mean().item() > 0.05


def test_the_lecture_deconv_vae_is_the_keras_layout_at_16_filters_with_the_sources_optimiser(tiny_data):
    r = recipe("keras-vae-deconv-lecture")
    spec = r.spec("mnist-sample")[0]
    torch.manual_seed(spec.train.seed)  # as aecore.runs does before building the model
    model = build_model("conv_vae", spec.model)
    assert sum(p.numel() for p in model.parameters()) == 818_730 and "818,730 parameters" in r.summary
    assert spec.model.layout == "keras" and spec.model.filters == 16 and "64" in r.note
    x = torch.tensor(tiny_data.x_test[:50], dtype=torch.float32).view(-1, 1, 28, 28) / 255.0
    assert model.encoder[:3](x).gt(0).float().mean().item() > 0.05  # its single 2x2 first filter sees the digits
    full = recipe("keras-vae-deconv").settings
    same = lambda settings: {k: v for k, v in settings.items() if k not in ("filters", "epochs", "seed")}  # noqa: E731
    assert same(r.settings) == same(full)  # RMSprop, batch 100, Glorot, dense 128


def test_stacked_stages_carry_their_learning_rates_and_early_stopping():
    model = build_model("stacked", {"hidden": (32, 16), "levels": (0.1, 0.2), "pretrain_lr": 0.001, "patience": 3})
    stages = model.stages(10)
    assert [s.lr for s in stages] == [0.001, 0.001, None]
    assert (stages[-1].patience, stages[-1].monitor) == (3, "error")
    assert [s.lr for s in build_model("stacked").stages(1)] == [None, None, None]  # the default: one rate


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    p = torch.nn.Parameter(torch.zeros(2))
    stopper = EarlyStopping(Stage("fine-tune", 10, [p], lambda x, y: {}, patience=2, monitor="error"))
    answers = []
    for epoch, error in enumerate([0.5, 0.3, 0.4, 0.35], start=1):
        with torch.no_grad():
            p.fill_(epoch)
        answers.append(stopper.epoch_ended({"error": error}))
    assert answers == [False, False, False, True]
    stopper.restore_best()
    assert p.tolist() == [2.0, 2.0]  # the weights of epoch 2, the lowest validation error


def test_stacked_early_stopping_ends_fine_tuning_in_the_trainer(tiny_data):
    torch.manual_seed(0)
    model = build_model("stacked", {**{"hidden": (16,), "levels": (0.1,)}, "pretrain_epochs": 1, "patience": 1})
    model.baseline = lambda epochs: None
    # lr 0: the validation error never improves after the first epoch, so fine-tuning stops after the second.
    result = _trainer(model, _subset(tiny_data, 64), TrainConfig(epochs=20, batch_size=32, lr=1e-12)).run()
    fine = [h for h in result.history if h["stage"] == "fine-tune"]
    assert len(fine) == 2
    assert result.metrics["test_error"] == pytest.approx(1 - result.metrics["finetune_test_accuracy"])


def test_stacked_fine_tuning_starts_from_the_pretrained_weights(tiny_data):
    """The SdA tutorial's own first version trained copies, so pretraining had no effect."""
    cfg = {"hidden": (32, 16), "levels": (0.1, 0.2), "pretrain_epochs": 2, "init": "sigmoid", "zero_bias": True}
    torch.manual_seed(0)
    model = build_model("stacked", cfg)
    fresh = [layer.weight.detach().clone() for layer in model.net.layers]
    after_pretraining, at_fine_tuning = [], []

    def on_epoch_end(progress):
        if progress.stage == "pretrain layer 2" and progress.epoch == progress.epochs:
            after_pretraining.extend(layer.weight.detach().clone() for layer in model.net.layers)

    classify = model.net.classify_loss

    def first_fine_tuning_loss(x, y):
        if not at_fine_tuning:
            at_fine_tuning.extend(layer.weight.detach().clone() for layer in model.net.layers)
        return classify(x, y)

    model.net.classify_loss = first_fine_tuning_loss
    model.baseline = lambda epochs: None
    _trainer(model, _subset(tiny_data, 128), TrainConfig(epochs=1, batch_size=32, optimizer="sgd", lr=0.1),
             callbacks={"on_epoch_end": [on_epoch_end]}).run()
    assert len(at_fine_tuning) == len(after_pretraining) == 2
    for start, pretrained, init in zip(at_fine_tuning, after_pretraining, fresh):
        assert torch.equal(start, pretrained)
        assert not torch.allclose(start, init, atol=1e-4)  # pretraining moved them


# --- the dA recipe against the tutorial, in NumPy --------------------------------------------------

def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def tutorial_da_cost_and_grads(W, b, b_prime, x, mask):
    """The dA tutorial's cost and its gradients: W (784, 500), tied decoder Wᵀ, binomial mask."""
    x_tilde = x * mask
    y = _sigmoid(x_tilde @ W + b)  # (B, 500)
    z = _sigmoid(y @ W.T + b_prime)  # (B, 784)
    cost = np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1))
    dz = (z - x) / len(x)  # d cost / d (pre-sigmoid of z)
    dy = (dz @ W) * y * (1 - y)
    return cost, {"W": x_tilde.T @ dy + dz.T @ y, "b": dy.sum(0), "b_prime": dz.sum(0)}


def _tutorial_params(model):
    return {"W": model.encoder[0].weight.detach().double().numpy().T.copy(),
            "b": model.encoder[0].bias.detach().double().numpy().copy(),
            "b_prime": model.decoder_biases[0].detach().double().numpy().copy()}


@pytest.mark.parametrize("level", [0.0, 0.3])
def test_da_recipe_matches_the_tutorial_step_by_step(tiny_data, level):
    spec, _ = recipe("theano-da").spec("mnist-sample", level=level, epochs=2)
    torch.manual_seed(0)
    model = build_model(spec.family, spec.model)
    params = _tutorial_params(model)
    data = _subset(tiny_data, 100)
    x_all = data.x_train.reshape(100, 784).astype(np.float64) / 255

    # One batch: the same cost and gradients.
    torch.manual_seed(5)
    mask = (torch.rand(20, 784) >= level).double().numpy()
    torch.manual_seed(5)
    model.train()
    loss = model.loss(torch.from_numpy(x_all[:20]).float())["loss"]
    loss.backward()
    cost, grads = tutorial_da_cost_and_grads(params["W"], params["b"], params["b_prime"], x_all[:20], mask)
    assert loss.item() == pytest.approx(cost, rel=1e-5)
    np.testing.assert_allclose(model.encoder[0].weight.grad.double().numpy().T, grads["W"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(model.encoder[0].bias.grad.double().numpy(), grads["b"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(model.decoder_biases[0].grad.double().numpy(), grads["b_prime"], rtol=1e-3, atol=1e-6)
    model.zero_grad()

    # Two epochs of the recipe's training (SGD 0.1, batch 20 in one fixed order): the same cost per epoch.
    result = _trainer(model, data, spec.train).run()
    torch.manual_seed(spec.train.seed)  # the trainer seeds torch once; each batch draws its mask in turn
    x_ordered = x_all[fixed_order(100, spec.train.seed).numpy()]
    costs = []
    for _ in range(2):
        batch_costs = []
        for start in range(0, 100, 20):
            mask = (torch.rand(20, 784) >= level).double().numpy() if level else np.ones((20, 784))
            cost, grads = tutorial_da_cost_and_grads(params["W"], params["b"], params["b_prime"],
                                                     x_ordered[start:start + 20], mask)
            batch_costs.append(cost)
            for name in params:
                params[name] -= 0.1 * grads[name]
        costs.append(np.mean(batch_costs))
    assert [h["train"]["loss"] for h in result.history] == pytest.approx(costs, rel=1e-4)
    np.testing.assert_allclose(model.encoder[0].weight.detach().double().numpy().T, params["W"], atol=1e-4)


# --- the registry, budgets, every recipe, the CLI --------------------------------------------------

def test_budget_keeps_the_sources_steps_on_the_sample_and_says_so():
    da = recipe("theano-da")
    on_sample = da.budget(3600)
    assert (on_sample.kind, on_sample.epochs, on_sample.source_steps) == ("steps", 209, 37_500)
    assert on_sample.steps >= on_sample.source_steps
    assert da.budget(50_000).kind == "source" and da.budget(50_000).epochs == 15
    assert da.budget(3600, epochs=15) == da.budget(3600, epochs=15) and da.budget(3600, epochs=15).kind == "user"
    deconv = recipe("keras-vae-deconv").budget(3600)
    assert deconv.kind == "capped" and deconv.epochs == recipe("keras-vae-deconv").max_epochs
    assert "capped" in deconv.describe() and "at most" not in deconv.describe()
    spec, budget = recipe("theano-sda").spec("mnist-sample", n_train=3600)
    assert spec.model.pretrain_epochs == budget.pretrain_epochs <= recipe("theano-sda").max_epochs
    # its 1,000 fine-tuning epochs are a maximum that early stopping cuts short, not a budget
    assert "at most 50,000,000 steps, which early stopping cuts short" in budget.describe()


def test_an_unknown_recipe_is_one_sentence():
    with pytest.raises(ConfigError, match="unknown recipe 'nope'; choose from theano-da"):
        recipe("nope")


def test_recipes_cover_the_five_sources_and_keep_existing_store_keys():
    assert {r.source.seed for r in RECIPES.values()} == {"000", "001", "002", "003", "004"}
    assert {"theano-da", "theano-da-0.3", "theano-da-mistyped", "keras-vae-mlp", "keras-vae-deconv", "tf-deep-ae",
            "cntk-simple-ae", "cntk-deep-ae", "theano-sda", "theano-sda-lecture"} <= set(RECIPES)
    assert "fsadagrad" in recipe("cntk-simple-ae").note
    # A model stored before the new settings existed keeps its key (this one was stored under main).
    assert make_spec("dae").key("x") == "d78277b13eac0e8a2100"


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_builds_and_trains_one_step(tiny_data, name):
    spec, _ = recipe(name).spec("mnist-sample", epochs=1)
    torch.manual_seed(0)
    model = build_model(spec.family, spec.model)
    if spec.family == "stacked":
        model = build_model(spec.family, {**spec.model.__dict__, "pretrain_epochs": 1})
    data = _subset(tiny_data, spec.train.batch_size, n_eval=8)  # one batch: one step per stage
    result = _trainer(model, data, spec.train).run()
    assert all(math.isfinite(h["train"]["loss"]) for h in result.history)
    assert result.history[-1]["step"] == 1


def test_brightest_pixel_error_is_cntks_classification_error_on_images():
    original = np.zeros((3, 784))
    original[:, [10, 20]] = 1.0  # two pixels at full brightness
    original[:, 40] = 0.5  # a grey one
    decoded = np.full((3, 784), 0.1)
    decoded[0, 20] = 0.9  # one of the brightest: agrees
    decoded[1, 30] = 0.9  # off the digit: an error
    decoded[2, 40] = 0.9  # on the grey pixel: half an error (1 - 0.5)
    assert brightest_pixel_error(original, decoded) == pytest.approx(1.5 / 3)


def test_classics_show_a_vae_recipes_test_codes_beside_the_prior():
    codes = [[0.0, 1.0], [1.0, 3.0], [2.0, 2.0]]  # the last epoch's probe codes
    meta = {"probe": {"snapshots": [[[9.0, 9.0]] * 3, codes], "reduced_with_pca": False}}
    rows = {what: (source, ours) for what, source, ours in comparison(recipe("keras-vae-mlp"), meta)}
    assert rows["test codes' mean per dimension"] == ("0 (the prior N(0, I))", "1.00, 2.00")
    assert rows["test codes' standard deviation per dimension"] == ("1 (the prior N(0, I))", "1.00, 1.00")
    untrained = {what: ours for what, _, ours in comparison(recipe("keras-vae-mlp"), None)}
    assert untrained["test codes' mean per dimension"] == "–"


@pytest.mark.slow
def test_cli_lists_recipes_and_trains_one_with_parameters_and_history(tmp_path):
    listing = run_cli(["recipes"], tmp_path)
    assert listing.returncode == 0 and "theano-da" in listing.stdout and "cntk-deep-ae" in listing.stdout
    out = last_json(run_cli(["train", "--recipe", "cntk-simple-ae", "--dataset", "mnist-sample", "--epochs", "2",
                             "--batch-size", "256", "--json"], tmp_path))
    assert out["recipe"] == "cntk-simple-ae" and out["budget"]["kind"] == "user"
    assert out["parameters"] == 784 * 32 + 32 + 32 * 784 + 784
    assert out["config"]["train"]["batch_size"] == 256  # a flag overrides the recipe
    assert [h["epoch"] for h in out["history"]] == [1, 2]
    assert set(out["history"][0]["val"]) == {"loss", "recon"}
    assert 0 <= out["brightest_pixel_error"] <= 1 and "cosine_3_8_decoded" in out
    bad = run_cli(["train", "--recipe", "nope", "--json"], tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.slow
def test_keras_vae_lecture_model_looks_like_the_sources_figures(tmp_path):
    """The Latent grid's default model, the Keras MLP VAE on the sample: its test codes spread like the
    prior N(0, I) (each dimension's mean within 0.3, standard deviation 0.6-1.4; at the old 30 epochs they
    were 1.40 and 1.48), and a pixel classifier (5 nearest training digits, 92% on the test digits) finds at
    least 9 of the 10 classes among the tiles of its 15x15 normal-quantile grid."""
    from sklearn.neighbors import KNeighborsClassifier

    from aecore.data import load_dataset
    from aecore.latent import decode_grid
    from aecore.store import ModelStore
    from bench.lecture_hall.server import prepare_home

    data = load_dataset("mnist-sample")
    [key] = prepare_home(tmp_path, families=("vae",))  # shared with the other modules that need the lecture set
    stored = ModelStore(tmp_path / "models").load(key)
    assert stored is not None and stored.meta["spec"]["train"]["epochs"] == 500
    model = stored.model.eval()
    with torch.no_grad():
        codes = model.encode(torch.tensor(data.x_test.reshape(len(data.x_test), -1), dtype=torch.float32) / 255.0)
    assert codes.mean(0).abs().max().item() <= 0.3, codes.mean(0)
    assert 0.6 <= codes.std(0).min().item() and codes.std(0).max().item() <= 1.4, codes.std(0)
    tiles = decode_grid(model, 15).reshape(225, 784)
    classifier = KNeighborsClassifier(5).fit(data.x_train.reshape(len(data.x_train), -1) / 255.0, data.y_train)
    found = set(classifier.predict(tiles).tolist())
    assert len(found) >= 9, f"classes found among the tiles: {sorted(found)}"
