"""The Classics page under Streamlit's AppTest: one card per source with its recipes, the source's
numbers beside ours (from a trained model's metadata), a button to train each recipe, and links to
the pages where its figures live."""
from __future__ import annotations

import pytest

from aecore.recipes import RECIPES, comparison, is_recipe_model, recipe
from aecore.runs import get_or_train
from tests.apptest import open_page

PAGE = "classics.py"

pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


def test_one_card_per_source_and_a_train_button_per_recipe():
    at = open_page(PAGE)
    titles = list(dict.fromkeys(r.source.title for r in RECIPES.values()))
    assert [h.value for h in at.subheader] == titles and len(titles) == 5  # named, not numbered "000 ·"
    # a recipe not trained yet has no "our last epoch (0)" row
    assert not any("our last epoch (0)" in str(t.value) for t in at.table)
    labels = [b.label for b in at.button]
    for name in RECIPES:
        assert any(label.startswith(f"Train {name} (") for label in labels), name
    assert any(label.startswith("Train theano-da (209 epochs, 37,620 steps (the source's number") for label in labels)


@pytest.mark.slow
def test_a_trained_recipe_shows_ours_beside_the_sources():
    spec, _ = recipe("cntk-simple-ae").spec("mnist-sample", n_train=3600)
    stored, _ = get_or_train(spec.__class__(**{**spec.__dict__, "train": spec.train.__class__(
        **{**spec.train.__dict__, "epochs": 1})}))
    rows = dict((w, (s, o)) for w, s, o in comparison(recipe("cntk-simple-ae"), stored.meta))
    assert rows["error (brightest pixel), test digits"][0] == "3.12%"
    assert rows["error (brightest pixel), test digits"][1].endswith("%")
    assert comparison(recipe("cntk-simple-ae"), None)[0][2] == "–"
    assert is_recipe_model(recipe("cntk-simple-ae"), stored.meta["spec"])  # on any budget
    assert not is_recipe_model(recipe("cntk-deep-ae"), stored.meta["spec"])
    at = open_page(PAGE)  # the 1-epoch model's numbers stand beside the source's
    assert any("Ours: ae 32" in c.value and "1 epoch," in c.value for c in at.caption)


@pytest.mark.slow
def test_a_trained_recipe_shows_our_picture_of_what_its_source_drew():
    """Beside the numbers, our version of the source's figure: the dA's filters, the VAE's quantile grid."""
    for name in ("theano-da", "keras-vae-mlp"):
        spec, _ = recipe(name).spec("mnist-sample", epochs=1)
        get_or_train(spec)
    at = open_page(PAGE)
    shown = " ".join(caption for img in at.get("image") for caption in img.captions)
    assert "the first 100 filters" in shown
    assert "15×15 grid at normal quantiles" in shown
    assert "one test digit per class" not in shown  # no ae recipe is trained here
