"""Tests of the model families: every registered family through the same shape, loss and learning
checks, then what is particular to one family (tied weights, corruption, the VAE and contractive
losses, stacked fine-tuning), config validation, and the spec's round trip and key."""
from __future__ import annotations

import json
from dataclasses import asdict, fields, replace

import pytest
import torch
import torch.nn.functional as F
from conftest import SMALL_CONFIGS

from aecore.configs import ACTIVATION_NAMES, CORRUPTIONS, FAMILIES, config_class
from aecore.errors import ConfigError
from aecore.models import INPUT_DIM, build_model, corrupt, make_config, model_class
from aecore.models.ae import ACTIVATIONS
from aecore.spec import RunSpec, check_key, lecture_specs, make_spec
from aecore.trainer import TrainConfig, Trainer


def small_model(family: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return build_model(family, {**SMALL_CONFIGS[family], **overrides})


def batch(data, n: int = 16) -> torch.Tensor:
    """The first `n` training digits as (n, 784) floats in [0, 1]."""
    return torch.from_numpy(data.x_train[:n].reshape(n, -1).astype("float32") / 255.0)


def test_every_family_has_a_small_config_a_description_and_controls():
    assert set(SMALL_CONFIGS) == set(FAMILIES)
    for family in FAMILIES:
        cls = model_class(family)
        assert cls.family == family and cls.config_class is config_class(family)
        cfg = config_class(family)
        assert cfg.description and cfg.small and cfg.controls
        make_config(family, cfg.small)  # valid settings
        # the controls at their defaults give settings the config accepts
        make_config(family, cfg.from_controls(cfg().control_values()))
    assert set(ACTIVATIONS) == set(ACTIVATION_NAMES)  # the settings accept what the models can do


# ---- every family: shapes, loss dict, learning ----------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_encode_decode_round_trip_shapes_and_range(family, tiny_data):
    model = small_model(family).eval()
    x = batch(tiny_data, 7)  # (B, 784)
    with torch.no_grad():
        code = model.encode(x)  # (B, D)
        x_hat = model.decode(code)  # (B, 784)
        again = model.reconstruct(x)
    assert code.shape == (7, model.code_dim)
    assert x_hat.shape == (7, INPUT_DIM)
    assert torch.isfinite(x_hat).all()
    assert x_hat.min() >= 0 and x_hat.max() <= 1
    assert torch.equal(again, x_hat)  # reconstruction is deterministic in eval mode


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_is_a_finite_scalar_made_of_named_parts(family, tiny_data):
    model = small_model(family).train()
    parts = model.loss(batch(tiny_data))
    assert set(parts) == {"loss", *model_class(family).loss_parts}
    loss = parts["loss"]
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert loss.requires_grad
    values = {k: v.item() for k, v in parts.items()}
    assert all(v >= 0 for v in values.values())
    if not model.is_variational:  # VAE parts are weighted by beta; tested separately
        assert values["loss"] == pytest.approx(sum(v for k, v in values.items() if k != "loss"), rel=1e-6)


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "stacked"])
def test_two_epochs_of_training_lower_the_validation_loss(family, tiny_data):
    cfg = TrainConfig(epochs=2, batch_size=32, seed=0)
    model = small_model(family)
    trainer = Trainer(model, tiny_data, cfg, device="cpu")
    before = trainer.evaluate(lambda x, y: model.loss(x), trainer.x_val, trainer.y_val)["loss"]
    result = trainer.run()
    after = result.history[-1]["val"]["loss"]
    assert result.model is model and not result.stopped_early
    assert after < 0.9 * before, f"{family}: val loss {before:.1f} -> {after:.1f}"
    assert result.final["test"]["loss"] < 0.9 * before


@pytest.mark.slow  # pretraining, fine-tuning and the baseline
def test_stacked_fine_tuning_beats_chance_and_reports_the_baseline(tiny_data):
    model = small_model("stacked")
    result = Trainer(model, tiny_data, TrainConfig(epochs=10, batch_size=32, seed=0), device="cpu").run()
    stages = [h["stage"] for h in result.history]
    assert stages == ["pretrain layer 1", "pretrain layer 2"] + ["fine-tune"] * 10 + ["random init"] * 10
    # Each pretraining stage lowers its own denoising loss.
    finetune = [h for h in result.history if h["stage"] == "fine-tune"]
    assert finetune[-1]["val"]["loss"] < finetune[0]["val"]["loss"]
    assert set(result.metrics) == {"finetune_test_accuracy", "test_error", "random_init_test_accuracy"}
    assert result.metrics["finetune_test_accuracy"] > 0.3  # chance is 0.1
    assert 0.0 <= result.metrics["random_init_test_accuracy"] <= 1.0
    labels = torch.tensor(tiny_data.y_test)
    x_test = torch.from_numpy(tiny_data.x_test.reshape(len(labels), -1).astype("float32") / 255.0)
    accuracy = (model.predict(x_test) == labels).float().mean().item()
    assert accuracy == pytest.approx(result.metrics["finetune_test_accuracy"])


def test_stacked_baseline_is_not_part_of_the_saved_parameters():
    model = small_model("stacked")
    before = set(model.state_dict())
    model.stages(1)
    baseline = model.baseline(1)
    assert set(model.state_dict()) == before
    assert not {id(p) for stage in baseline.stages for p in stage.params} & {id(p) for p in model.parameters()}


# ---- tied weights --------------------------------------------------------------------------------

def test_tied_autoencoder_has_no_decoder_weights():
    tied = small_model("ae", tied=True)
    untied = small_model("ae", tied=False)
    tied_names = {n for n, _ in tied.named_parameters()}
    assert not any("decoder" in n and n.endswith("weight") for n in tied_names)
    assert {n for n in tied_names if "decoder" in n} == {"decoder_biases.0", "decoder_biases.1"}
    encoder_params = sum(p.numel() for p in tied.encoder.parameters())
    decoder_biases = 64 + INPUT_DIM  # one per layer the decoder outputs; 784 -> 64 -> 16 mirrored
    assert sum(p.numel() for p in tied.parameters()) == encoder_params + decoder_biases
    assert sum(p.numel() for p in untied.parameters()) > sum(p.numel() for p in tied.parameters())


def test_tied_decoder_uses_the_encoder_weights():
    code = torch.rand(4, 16)
    for tied, should_change in ((True, True), (False, False)):
        model = small_model("ae", tied=tied).eval()
        with torch.no_grad():
            before = model.decode(code)
            model.encoder[0].weight.add_(0.5)
            after = model.decode(code)
        assert (not torch.allclose(before, after)) is should_change


def test_tied_encoder_weights_get_gradient_from_the_decoder():
    model = small_model("ae", tied=True)
    code = torch.rand(4, 16)
    model.decode(code).sum().backward()  # decoder only: any gradient on the encoder comes through Wᵀ
    assert model.encoder[0].weight.grad is not None and model.encoder[0].weight.grad.abs().sum() > 0


# ---- denoising: the classic dA and the corruptions ---------------------------------------------

def test_classic_denoising_autoencoder_is_expressible(tiny_data):
    spec = make_spec("dae", hidden=(500,), activation="sigmoid", code_activation="sigmoid", tied=True,
                     corruption="masking", level=0.3, optimizer="sgd", lr=0.1, batch_size=20, epochs=1)
    assert spec.model.hidden == (500,) and spec.model.tied and spec.model.level == 0.3
    assert (spec.train.optimizer, spec.train.lr, spec.train.batch_size) == ("sgd", 0.1, 20)
    torch.manual_seed(0)
    model = build_model(spec.family, spec.model)
    assert model.encoder[0].weight.shape == (500, INPUT_DIM)
    assert model.decoder is None
    trainer = Trainer(model, tiny_data, spec.train, device="cpu")
    before = trainer.evaluate(lambda x, y: model.loss(x), trainer.x_val, trainer.y_val)["loss"]
    result = trainer.run()
    assert result.history[0]["steps"] == -(-len(tiny_data.x_train) // 20)
    assert result.history[-1]["val"]["loss"] < before


def test_masking_zeroes_about_level_of_the_pixels():
    x = torch.rand(500, INPUT_DIM) * 0.9 + 0.1  # no zeros to start with
    for level in (0.1, 0.3, 0.7):
        noisy = corrupt(x, "masking", level, torch.Generator().manual_seed(1))
        zeroed = (noisy == 0).float().mean().item()
        assert zeroed == pytest.approx(level, abs=0.005)  # 392,000 pixels: σ ≈ 0.0007
        kept = noisy != 0
        assert torch.equal(noisy[kept], x[kept])  # surviving pixels are untouched


def test_corruption_is_seeded():
    x = torch.rand(20, INPUT_DIM)
    for kind in CORRUPTIONS:
        a = corrupt(x, kind, 0.4, torch.Generator().manual_seed(3))
        b = corrupt(x, kind, 0.4, torch.Generator().manual_seed(3))
        c = corrupt(x, kind, 0.4, torch.Generator().manual_seed(4))
        assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_level_zero_is_the_identity(kind):
    x = torch.rand(8, INPUT_DIM)
    assert corrupt(x, kind, 0.0) is x


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper"])
@pytest.mark.parametrize("level", [0.05, 0.5, 1.0])
def test_additive_corruptions_stay_in_the_unit_interval(kind, level):
    x = torch.rand(200, INPUT_DIM)
    noisy = corrupt(x, kind, level, torch.Generator().manual_seed(0))
    assert noisy.shape == x.shape and noisy.dtype == x.dtype
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert (noisy != x).float().mean() > 0.04


def test_salt_and_pepper_hits_about_level_of_the_pixels_with_zeros_and_ones():
    x = torch.full((500, INPUT_DIM), 0.5)
    noisy = corrupt(x, "salt_pepper", 0.2, torch.Generator().manual_seed(0))
    hit = noisy != 0.5
    assert hit.float().mean().item() == pytest.approx(0.2, abs=0.005)
    assert set(noisy[hit].unique().tolist()) == {0.0, 1.0}
    assert (noisy[hit] == 1).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_dae_corrupts_only_while_training():
    model = small_model("dae", level=0.5)
    x = torch.rand(4, INPUT_DIM) + 0.01
    model.eval()
    assert torch.equal(model.corrupt(x), x)
    model.train()
    assert (model.corrupt(x) == 0).float().mean().item() == pytest.approx(0.5, abs=0.05)


# ---- VAE ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", [f for f in FAMILIES if model_class(f).is_variational])
def test_vae_loss_is_reconstruction_plus_beta_times_kl(family, tiny_data):
    model = small_model(family, beta=2.5).eval()  # eval: z = μ, so every term can be recomputed
    _check_vae_loss(model, batch(tiny_data), beta=2.5)


@torch.no_grad()
def _check_vae_loss(model, x, beta):
    parts = model.loss(x)
    mu, logvar = model.encode_dist(x)
    recon = F.binary_cross_entropy_with_logits(model.decode_logits(mu), x, reduction="none").sum(1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
    assert float(parts["recon"]) == pytest.approx(float(recon), rel=1e-5)
    assert float(parts["kl"]) == pytest.approx(float(kl), rel=1e-5)
    assert float(parts["loss"]) == pytest.approx(float(recon + beta * kl), rel=1e-5)
    model.train()  # sampled z: the parts change, the formula does not
    torch.manual_seed(0)
    parts = model.loss(x)
    assert float(parts["loss"]) == pytest.approx(float(parts["recon"] + beta * parts["kl"]), rel=1e-5)


def test_vae_samples_from_the_prior_are_images():
    model = small_model("vae").eval()
    with torch.no_grad():
        images = model.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, INPUT_DIM) and images.min() >= 0 and images.max() <= 1


# ---- contractive ----------------------------------------------------------------------------------

def _jacobian_norm(model, x: torch.Tensor) -> float:
    """Mean over the batch of ‖∂h/∂x‖²_F by autograd, sample by sample."""
    total = 0.0
    for row in x:
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0], row)  # (H, 784)
        total += float((jac ** 2).sum())
    return total / len(x)


def test_contractive_closed_form_and_stochastic_estimate_agree_with_the_jacobian(tiny_data):
    model = small_model("contractive", hidden=(32,), contraction_weight=1.0).train()
    assert model._single_sigmoid_layer()
    x = batch(tiny_data, 16)
    exact = _jacobian_norm(model, x)
    closed = model.loss(x)["contraction"].item()
    assert closed == pytest.approx(exact, rel=1e-4)

    # The same one-layer encoder through the estimator E‖vᵀJ‖² = ‖J‖²_F, v ~ N(0, I).
    model._single_sigmoid_layer = lambda: False
    x_in = model.corrupt(x.clone())
    assert x_in.requires_grad
    code = model.encode(x_in)
    torch.manual_seed(0)
    estimates = torch.tensor([model.penalty(x_in, code)["contraction"].item() for _ in range(400)])
    assert estimates.std() > 0  # really stochastic
    assert float(estimates.mean()) == pytest.approx(exact, rel=0.05)


def test_deep_contractive_estimate_is_differentiable_and_off_in_eval(tiny_data):
    model = small_model("contractive", hidden=(64, 16), code_activation="sigmoid")
    assert not model._single_sigmoid_layer()
    x = batch(tiny_data, 8)
    parts = model.loss(x)
    assert not x.requires_grad  # the caller's batch is left as it was
    assert parts["contraction"].item() > 0
    parts["loss"].backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        assert float(model.loss(x)["contraction"]) == 0.0
        model.train()  # training mode without autograd (e.g. a quick look at the loss) must not crash
        assert float(model.loss(x)["contraction"]) == 0.0


# ---- config validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("family, settings", [
    ("ae", {"hidden": 0}),
    ("ae", {"hidden": (64, 0)}),
    ("ae", {"hidden": (10 ** 6,)}),
    ("ae", {"hidden": ()}),
    ("ae", {"hidden": (1, 2, 3, 4, 5, 6, 7)}),
    ("ae", {"hidden": (12.5,)}),
    ("ae", {"hidden": "wide"}),
    ("ae", {"activation": "softmax"}),
    ("dae", {"level": -0.1}),
    ("dae", {"level": 1.5}),
    ("dae", {"level": float("nan")}),
    ("dae", {"corruption": "blur"}),
    ("sparse", {"sparsity_target": 0.0}),
    ("sparse", {"sparsity_target": 1.0}),
    ("sparse", {"sparsity_target": 1e-300}),  # 0 in float32: the KL penalty would be NaN
    ("sparse", {"sparsity_target": 5e-5}),
    ("sparse", {"code_activation": "relu"}),  # KL sparsity needs codes in (0, 1)
    ("vae", {"latent": 0}),
    ("vae", {"beta": -1}),
    ("conv_vae", {"filters": 0}),
    ("stacked", {"hidden": (64, 32), "levels": (0.1,)}),
    ("ae", {"lr": 0}),
    ("ae", {"lr": -1}),
    ("ae", {"lr": float("inf")}),
    ("ae", {"epochs": 10 ** 6}),
    ("ae", {"epochs": 0}),
    ("ae", {"batch_size": 0}),
    ("ae", {"optimizer": "adagrad"}),
    ("ae", {"seed": -1}),
    ("ae", {"epochs": True}),
    ("nope", {}),
    ("ae", {"pretrain_epochs": 1}),  # a stacked setting on another family
    ("ae", {"no_such_setting": 1}),
])
def test_bad_settings_raise_config_error(family, settings):
    with pytest.raises(ConfigError):
        make_spec(family, **settings)


def test_bad_settings_are_refused_by_the_configs_themselves():
    with pytest.raises(ConfigError):
        build_model("ae", {"hidden": (0,)})
    with pytest.raises(ConfigError):
        build_model("ae", {"hidden": (64,), "bogus": 1})
    with pytest.raises(ConfigError):
        RunSpec.from_dict({"family": "dae", "model": {"level": 2.0}})
    with pytest.raises(ConfigError):
        RunSpec.from_dict({"family": "ae", "train": {"lr": -1}})
    with pytest.raises(ConfigError):
        RunSpec.from_dict(["ae"])
    with pytest.raises(ConfigError):
        build_model("nope")


def test_json_lists_become_tuples():
    cfg = make_config("stacked", {"hidden": [64, 32], "levels": [0.1, 0.2]})
    assert cfg.hidden == (64, 32) and cfg.levels == (0.1, 0.2)
    assert make_config("ae", {"hidden": 32}).hidden == (32,)


# ---- specs: round trip and key -------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_spec_round_trips_through_json(family):
    spec = make_spec(family, "mnist-sample", epochs=3, lr=1e-3, **SMALL_CONFIGS[family])
    again = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.key("f" * 64) == spec.key("f" * 64)
    assert check_key(spec.key("f" * 64)) == spec.key("f" * 64)
    assert build_model(family, again.model).config_dict() == {"family": family, **asdict(spec.model)}


def _other_values(value):
    """Candidate different values of a setting, in order of preference."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value / 2, 0.5, value + 0.5]
    if isinstance(value, tuple):
        if all(isinstance(v, int) for v in value):
            return [(*value[:-1], value[-1] + 1)]
        return [tuple(v / 2 for v in value)]
    if isinstance(value, str):
        return ["tanh", "sigmoid", "relu", "linear", "mse", "bce", "gaussian", "salt_pepper", "kl", "l1", "sgd", "mean",
                "glorot", "keras"]
    raise AssertionError(f"no variant for {value!r}")


def _changed(spec: RunSpec, name: str) -> RunSpec:
    flat = {**asdict(spec.model), **asdict(spec.train)}
    for candidate in _other_values(flat[name]):
        if candidate == flat[name]:
            continue
        try:
            return make_spec(spec.family, spec.dataset, **{**flat, name: candidate})
        except ConfigError:
            continue
    raise AssertionError(f"{spec.family}: found no valid other value for {name}")


@pytest.mark.parametrize("family", FAMILIES)
def test_key_is_stable_and_changes_with_every_setting(family):
    # With the L1 penalty every sparse setting can change on its own (KL pins code_activation).
    settings = {**SMALL_CONFIGS[family], **({"sparsity": "l1"} if family == "sparse" else {})}
    spec = make_spec(family, **settings)
    fingerprint = "a" * 64
    key = spec.key(fingerprint)
    assert key == make_spec(family, **settings).key(fingerprint)
    assert spec.key("b" * 64) != key  # other data, other model
    names = [f.name for f in fields(spec.model)] + [f.name for f in fields(TrainConfig)]
    keys = {key}
    for name in names:
        other = _changed(spec, name)
        assert other != spec
        assert other.key(fingerprint) not in keys, f"{family}: changing {name} kept a key"
        keys.add(other.key(fingerprint))


def test_label_names_the_settings_that_differ_from_the_family_defaults():
    assert make_spec("dae", level=0.3).label() == "dae 500 masking 0.3"
    assert make_spec("dae", level=0.3, tied=False).label() == "dae 500 masking 0.3 untied"
    assert make_spec("ae", tied=True).label() == "ae 256-32 tied"
    assert make_spec("vae", beta=4.0).label() == "vae 400 z2 β=4"
    assert make_spec("stacked", pretrain_epochs=2).label() == "stacked 500-250 pretrain epochs 2"


def test_a_classic_recipes_model_is_named_by_its_key_settings_and_the_recipe():
    from aecore.recipes import RECIPES
    assert RECIPES["keras-vae-mlp"].spec("mnist-sample")[0].label() == "vae 256 z2 (keras-vae-mlp)"
    assert RECIPES["theano-da-0.3"].spec()[0].label() == "dae 500 masking 0.3 (theano-da-0.3)"
    labels = [r.spec(n_train=3600)[0].label() for r in RECIPES.values()]
    assert len(set(labels)) == len(labels) and max(map(len, labels)) <= 40, labels
    plain = make_spec("vae", hidden=(256,), init="glorot", zero_bias=True)  # the recipe's model, other training
    assert plain.label() == "vae 256 z2 init glorot zero bias"


@pytest.mark.parametrize("family", FAMILIES)
def test_models_that_differ_in_any_model_setting_have_different_labels(family):
    settings = {**SMALL_CONFIGS[family], **({"sparsity": "l1"} if family == "sparse" else {})}
    spec = make_spec(family, **settings)
    labels = [spec.label()] + [_changed(spec, f.name).label() for f in fields(spec.model)]
    assert len(set(labels)) == len(labels), labels


def test_key_ignores_the_dataset_name_but_not_its_content():
    spec = make_spec("ae")
    assert spec.key("c" * 64) == spec.with_dataset("/some/path").key("c" * 64)


def test_lecture_specs_are_valid_and_distinct():
    specs = lecture_specs("mnist-sample")
    assert [s.family for s in specs] == ["ae", "dae", "dae", "vae", "conv_vae"]
    assert len({s.key("d" * 64) for s in specs}) == len(specs)
    assert all(s.dataset == "mnist-sample" for s in specs)
    assert replace(specs[1], model=replace(specs[1].model, level=0.3)) == specs[2]
