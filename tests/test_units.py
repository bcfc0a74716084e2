"""What the unit inspector and the Denoising page compute in `aecore`: first-layer activations of every
family with a dense first layer, the strongest digits and percentiles of a unit, the sparsity target,
and seeded corruption with reconstructions and per-pixel errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SMALL_CONFIGS

from aecore.configs import FAMILIES
from aecore.denoising import corrupt_images, denoise, denoising_error
from aecore.metrics import encode_images
from aecore.models import build_model
from aecore.units import QUANTILES, share_below, sparsity_target, summarize_units, unit_activations

DENSE = [f for f in FAMILIES if f != "conv_vae"]


def small_model(family: str, **overrides):
    torch.manual_seed(0)
    return build_model(family, {**SMALL_CONFIGS[family], **overrides})


@pytest.mark.parametrize("family", DENSE)
def test_each_filter_has_one_activation_per_digit(family, tiny_data):
    model = small_model(family)
    acts = unit_activations(model, tiny_data.x_test[:20])
    assert acts.shape == (20, model.first_layer_weights().shape[0])
    assert np.isfinite(acts).all() and acts.std() > 0


@pytest.mark.parametrize("family", ["ae", "dae", "sparse", "contractive"])
def test_a_one_layer_models_first_layer_activations_are_its_code(family, tiny_data):
    model = small_model(family, hidden=(24,), code_activation="sigmoid")
    np.testing.assert_allclose(unit_activations(model, tiny_data.x_test[:20]),
                               encode_images(model, tiny_data.x_test[:20]), atol=1e-6)


def test_first_layer_of_a_deep_model_is_its_activated_first_linear_layer(tiny_data):
    model = small_model("ae", hidden=(40, 8), activation="relu")
    x = torch.from_numpy(tiny_data.x_test[:10].reshape(10, -1) / 255.0).float()
    expected = torch.relu(model.encoder[0](x)).detach().numpy()
    np.testing.assert_allclose(unit_activations(model, tiny_data.x_test[:10]), expected, atol=1e-6)
    assert (expected == 0).any(), "a ReLU unit is silent on some digit"


def test_a_convolutional_model_has_no_first_layer_units(tiny_data):
    with pytest.raises(NotImplementedError):
        unit_activations(small_model("conv_vae"), tiny_data.x_test[:4])


def test_summary_ranks_each_units_digits_and_places_a_value_among_them():
    acts = np.stack([np.arange(100.0), -np.arange(100.0)], axis=1)  # unit 0 rises with the index, unit 1 falls
    summary = summarize_units(acts, k=9)
    assert summary.n_units == 2 and summary.quantiles.shape == (2, QUANTILES)
    assert summary.top[0].tolist() == list(range(99, 90, -1))
    assert summary.top[1].tolist() == list(range(9))
    assert summary.top_values[0, 0] == 99 and summary.top_values[1, 0] == 0
    np.testing.assert_allclose(summary.mean, [49.5, -49.5])
    assert share_below(summary, 0, -1) == 0 and share_below(summary, 0, 1000) == 1
    assert abs(share_below(summary, 0, 50) - 0.5) <= 0.02
    assert abs(share_below(summary, 1, -90) - 0.1) <= 0.02


def test_sparsity_target_only_where_the_penalty_sets_one_on_the_first_layer():
    assert sparsity_target(small_model("sparse", sparsity_target=0.1)) == pytest.approx(0.1)
    assert sparsity_target(small_model("sparse", sparsity="l1")) is None
    assert sparsity_target(small_model("sparse", hidden=(64, 16))) is None  # ρ is on the code layer
    assert sparsity_target(small_model("dae")) is None


def test_corruption_is_seeded_and_takes_uint8_or_unit_floats(tiny_data):
    digits = tiny_data.x_test[:5]
    a = corrupt_images(digits, "masking", 0.5)
    assert a.shape == digits.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, corrupt_images(digits / 255.0, "masking", 0.5))
    assert not np.array_equal(a, corrupt_images(digits, "masking", 0.5, seed=1))
    np.testing.assert_array_equal(corrupt_images(digits, "gaussian", 0.0), digits / np.float32(255.0))
    ink = digits > 0
    assert 0.4 < (a[ink] == 0).mean() < 0.6  # about half of the ink masked


def test_denoise_gives_the_reconstruction_and_its_per_pixel_error(tiny_data):
    model = small_model("dae")
    clean = tiny_data.x_test[:6]
    out = denoise(model, clean, "salt_pepper", 0.3)
    assert out.clean.max() <= 1 and out.noisy.shape == out.recon.shape == out.error.shape == (6, 28, 28)
    np.testing.assert_allclose(out.error, np.abs(out.recon - clean / 255.0), atol=1e-6)
    np.testing.assert_allclose(out.squared_error, ((out.recon - clean / 255.0) ** 2).mean(axis=(1, 2)), atol=1e-6)
    again = denoise(model, clean, "salt_pepper", 0.3, noisy=out.noisy)  # another model would see the same input
    np.testing.assert_array_equal(again.recon, out.recon)
    less = denoise(model, clean, "salt_pepper", 0.0)
    assert not np.array_equal(less.noisy, out.noisy)


def test_the_mean_error_over_many_digits_is_measured_in_batches(tiny_data):
    model = small_model("dae")
    digits = tiny_data.x_test[:50]
    whole = denoise(model, digits, "masking", 0.0).squared_error.mean()
    assert denoising_error(model, digits, "masking", 0.0, batch_size=7) == pytest.approx(whole, rel=1e-6)
    noisy = denoising_error(model, digits, "masking", 0.5, batch_size=7)
    assert noisy == denoising_error(model, digits, "masking", 0.5, batch_size=7)  # seeded
