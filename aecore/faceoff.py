"""The face-off: every model family trained on the same data with the same seed, measured one way.

Each family trains on its own loss (a VAE's includes its KL term), so those losses do not compare.
`faceoff_row` measures a stored model the same way whatever its family: the reconstruction of the
test digits (binary cross-entropy and squared error per pixel, the VAE decoding its posterior mean),
how well a linear probe and a 10-nearest-neighbour vote read the digit's class off the codes, and the
training time its metadata recorded. `pick_contenders` chooses one model per family to compare.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from aecore.configs import FAMILIES
from aecore.data import Dataset
from aecore.metrics import encode_images, linear_probe_accuracy, neighbour_accuracy, reconstruction_metrics
from aecore.store import StoredModel

NEIGHBOURS = 10  # the k of the k-NN accuracy
KNN_MAX_TRAIN = 20_000  # training codes the k-NN vote searches (a seeded subset of full MNIST's 60,000)


def pick_contenders(metas: Iterable[dict], seed: int, preferred: Sequence[str] = ()) -> dict[str, dict]:
    """One stored model per family, family -> metadata, in `FAMILIES` order: among the models trained
    with `seed`, the one whose key is in `preferred` (the lecture's), else the newest.

    `metas` are store metadata of models trained on one dataset (`ModelStore.list`)."""
    chosen: dict[str, dict] = {}
    for meta in sorted(metas, key=lambda m: (m.get("key") in preferred, m.get("finished", 0)), reverse=True):
        spec = meta.get("spec", {})
        family = spec.get("family")
        if family in FAMILIES and family not in chosen and spec.get("train", {}).get("seed", 0) == seed:
            chosen[family] = meta
    return {family: chosen[family] for family in FAMILIES if family in chosen}


def faceoff_row(stored: StoredModel, data: Dataset, *, k: int = NEIGHBOURS, seed: int = 0) -> dict:
    """One model's figures on `data`, measured alike for every family.

    Returns
    -------
    dict
        ``key``, ``family``, ``label``; ``code_dim``; ``parameters``; ``epochs``: of its main stage;
        ``train_images``: how many it was trained on (None if not recorded);
        ``bce`` and ``mse``: reconstruction error of the test digits per pixel; ``probe_accuracy``: a
        logistic regression on the codes (`linear_probe_accuracy`); ``knn_accuracy``: a k-NN vote
        among at most KNN_MAX_TRAIN training codes; ``train_seconds`` and ``device``: as recorded
        when it was trained (None if not recorded).
    """
    model, meta = stored.model, stored.meta
    recon = reconstruction_metrics(model, data.x_test)
    n_train = len(data.x_train)
    keep = np.arange(n_train) if n_train <= KNN_MAX_TRAIN else \
        np.sort(np.random.default_rng(seed).choice(n_train, KNN_MAX_TRAIN, replace=False))
    train_codes = encode_images(model, data.x_train[keep])  # (N, D)
    test_codes = encode_images(model, data.x_test)  # (M, D)
    train_labels = data.y_train[keep]
    return {
        "key": stored.key,
        "family": stored.spec.family,
        "label": meta.get("label") or stored.spec.label(),
        "code_dim": int(test_codes.shape[1]),
        "parameters": int(meta.get("parameters") or sum(p.numel() for p in model.parameters())),
        "epochs": stored.spec.train.epochs,
        "train_images": (meta.get("dataset") or {}).get("train"),
        "bce": recon["bce"],
        "mse": recon["mse"],
        "probe_accuracy": linear_probe_accuracy(train_codes, train_labels, test_codes, data.y_test, seed=seed),
        "knn_accuracy": neighbour_accuracy(train_codes, train_labels, test_codes, data.y_test, k=k),
        "train_seconds": meta.get("seconds"),
        "device": meta.get("device"),
    }
