"""The Stacked pretraining page under Streamlit's AppTest: it offers the lecture's stacked model with
nothing cached, and for a trained one shows every pretraining stage, the fine-tuning comparison and
the final test accuracies; models of other families are not offered."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from aecore.runs import get_or_train
from aecore.spec import make_spec
from tests.apptest import open_page

PAGE = "stacked.py"
TINY = dict(hidden=(32, 16), levels=(0.1, 0.2), epochs=1)


pytestmark = pytest.mark.usefixtures("fresh_app", "ask_before_training")  # tests/conftest.py


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_without_a_stacked_model_it_offers_the_lecture_one():
    get_or_train(make_spec("ae", "mnist-sample", hidden=(16,), epochs=1))  # not stacked: not offered
    at = open_page(PAGE)
    assert any(b.label.startswith("Train stacked 500-500 (theano-sda-lecture) now") for b in at.button)
    assert "stk_model" not in [s.key for s in at.selectbox]
    assert not at.get("plotly_chart")


def test_a_trained_model_shows_each_stage_and_the_accuracies():
    stored, _ = get_or_train(make_spec("stacked", "mnist-sample", pretrain_epochs=2, **TINY))
    at = open_page(PAGE)
    assert at.selectbox(key="stk_model").value == stored.key
    titles = chart_titles(at)
    assert titles[0].startswith("Pretrain layer 1") and titles[1].startswith("Pretrain layer 2")
    assert titles[2] == "Validation accuracy per epoch"
    finetune = json.loads(at.get("plotly_chart")[2].proto.spec)["data"]
    assert [t["name"] for t in finetune] == ["fine-tune", "random init"]
    metrics = {m.label: m for m in at.metric}
    tuned = metrics["Test accuracy, pretrained + fine-tuned"]
    assert tuned.value.endswith("%") and "points vs random init" in tuned.delta
    assert " ± " in tuned.delta  # with its standard error on the 1,000 test digits, and a verdict in words
    assert any("of 1,000 test digits" in c.value and "noise" in c.value for c in at.caption)
    assert metrics["Test accuracy, random initialisation"].value.endswith("%")
    assert any("first 32 filters" in (i.proto.imgs[0].caption if i.proto.imgs else "") for i in at.get("image"))


def test_without_pretraining_it_says_so_and_picks_from_the_url():
    plain, _ = get_or_train(make_spec("stacked", "mnist-sample", pretrain_epochs=0, **TINY))
    get_or_train(make_spec("stacked", "mnist-sample", pretrain_epochs=1, **TINY))
    at = open_page(PAGE, {"model": plain.key})
    assert at.selectbox(key="stk_model").value == plain.key
    assert any("skipped pretraining" in i.value for i in at.info)
    assert chart_titles(at) == ["Validation accuracy per epoch"]


def test_an_accuracy_gap_of_a_few_digits_is_within_noise():
    from app.words import accuracy_gap
    text, within, sentence = accuracy_gap(0.906, 0.900, 1000)  # 6 of 1,000 digits: the lecture model's gap
    assert within and text.startswith("+0.60 ± 1.32") and "6 of 1,000" in sentence and "within noise" in sentence
    assert not accuracy_gap(0.95, 0.90, 1000)[1]  # 50 digits, about 4 standard errors

