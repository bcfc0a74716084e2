"""What decides whether a page trains its model at once or asks first: the embedded sample's smaller
lecture models, the training-time estimate and how it is said."""
from __future__ import annotations

from aecore.recipes import LECTURE_RECIPES, RECIPES, is_recipe_model
from aecore.spec import lecture_spec, lecture_specs, make_spec
from app import training


def test_every_lecture_model_with_a_source_is_its_recipe_and_the_others_their_defaults():
    for (family, level), name in LECTURE_RECIPES.items():
        settings = {} if level is None else {"level": level}
        for dataset in ("mnist-sample", "mnist"):
            assert is_recipe_model(RECIPES[name], lecture_spec(family, dataset, **settings).to_dict()), (name, dataset)
    assert {f for f, _ in LECTURE_RECIPES} == {"ae", "dae", "vae", "conv_vae", "stacked"}
    assert lecture_spec("sparse", "mnist-sample") == make_spec("sparse", "mnist-sample")
    assert lecture_spec("ae", "mnist-sample").label() == "ae 32 (cntk-simple-ae)"
    assert lecture_spec("stacked", "mnist-sample").model.hidden == (500, 500)
    small, full = lecture_spec("conv_vae", "mnist-sample").model, RECIPES["keras-vae-deconv"].spec()[0].model
    assert small.layout == full.layout == "keras" and small.filters < full.filters
    assert lecture_spec("ae", "mnist").train.epochs == 5  # the source's own epochs on full MNIST
    assert lecture_spec("dae", "mnist-sample", level=0.0).model.level == 0.0  # settings on top
    assert [s.family for s in lecture_specs("mnist-sample")] == ["ae", "dae", "dae", "vae", "conv_vae"]


def test_every_page_model_on_the_sample_trains_without_asking_and_full_mnist_asks_for_minutes():
    n_sample, n_full = 3600, 55000
    pages = [lecture_spec("stacked", "mnist-sample"), *lecture_specs("mnist-sample")]
    assert all(training.estimated_seconds(s, n_sample) <= training.AUTO_TRAIN_MAX_S for s in pages)
    # the CNTK ae's 5 source epochs are the one full-MNIST lecture model a page trains at once
    minutes = [lecture_spec(f, "mnist") for f in ("dae", "vae", "stacked", "conv_vae")]
    assert all(training.estimated_seconds(s, n_full) > training.AUTO_TRAIN_MAX_S for s in minutes)


def test_the_estimate_grows_with_epochs_and_counts_stacked_pretraining():
    short, long = make_spec("ae", epochs=5), make_spec("ae", epochs=10)
    assert training.estimated_seconds(long, 1000) == 2 * training.estimated_seconds(short, 1000)
    plain = make_spec("stacked", hidden=(64,), levels=(0.1,), pretrain_epochs=0, epochs=4)
    pretrained = make_spec("stacked", hidden=(64,), levels=(0.1,), pretrain_epochs=2, epochs=4)
    assert training.estimated_seconds(pretrained, 1000) > training.estimated_seconds(plain, 1000)


def test_durations_read_in_seconds_then_minutes():
    assert training.duration_text(2) == "about 5 s"
    assert training.duration_text(22) == "about 20 s"
    assert training.duration_text(600) == "about 10 min"
