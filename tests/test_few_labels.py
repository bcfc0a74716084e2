"""Fine-tuning with few labels (stacked `labels`): pretraining sees every training digit, fine-tuning and
its random-initialisation baseline see the same seeded, class-stratified few; 0 keeps every label and
the store keys of models stored before the setting existed."""
from __future__ import annotations

import numpy as np
import torch

from aecore.models import build_model
from aecore.spec import lecture_spec, make_spec
from aecore.trainer import Trainer


def test_fine_tuning_and_its_baseline_learn_from_the_same_few_labelled_digits(tiny_data):
    spec = make_spec("stacked", hidden=(32, 16), levels=(0.1, 0.2), pretrain_epochs=1, labels=30, epochs=2,
                     batch_size=10)
    torch.manual_seed(0)
    model = build_model(spec.family, spec.model)
    trainer = Trainer(model, tiny_data, spec.train, device="cpu")
    # Watch the digits each stage trains on through the trainer's own batches.
    batches: dict[str, set] = {}
    step = trainer._step

    def watch(stage, optimizer, guard, idx, epoch, n):
        batches.setdefault(stage.name, set()).update(idx.tolist())
        return step(stage, optimizer, guard, idx, epoch, n)

    trainer._step = watch
    result = trainer.run()
    assert len(batches["pretrain layer 1"]) == len(tiny_data.x_train)  # pretraining: every digit
    assert len(batches["fine-tune"]) == 30 and batches["fine-tune"] == batches["random init"]
    counts = np.bincount(tiny_data.y_train[sorted(batches["fine-tune"])], minlength=10)
    assert counts.min() >= 2 and counts.max() <= 4  # 30 labels, about 3 of each class
    steps = {h["stage"]: h["steps"] for h in result.history}
    assert steps["fine-tune"] == steps["random init"] == 3 and steps["pretrain layer 1"] == 52
    assert result.history[-1]["global_step"] == result.history[-1]["total_steps"]
    assert {"finetune_test_accuracy", "random_init_test_accuracy"} <= set(result.metrics)


def test_every_label_is_the_default_and_keeps_stored_keys():
    spec = lecture_spec("stacked", "mnist-sample")
    assert spec.model.labels == 0
    with_all = make_spec("stacked", "mnist-sample", labels=0)
    assert with_all.key("x") == make_spec("stacked", "mnist-sample").key("x")
    assert make_spec("stacked", "mnist-sample", labels=100).key("x") != with_all.key("x")
    assert "labels 100" in make_spec("stacked", "mnist-sample", labels=100).label()
