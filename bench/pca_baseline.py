"""The default autoencoder against PCA: test reconstruction error per pixel with a 32-number code.

The default 32-d `ae` (`make_spec("ae", dataset)`, default epochs, trained with BCE) and
scikit-learn's `PCA(32)` are fitted on the same training split in the same run, and both reconstruct
the same test split; the figure is the mean squared error per pixel, pixels in [0, 1]. PCA's
reconstructions are used as they come (a second row clips them to [0, 1], which helps PCA a little).

    python -m bench.pca_baseline
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from aecore.metrics import reconstruction_metrics
from aecore.models import build_model
from aecore.runs import train_spec
from aecore.spec import make_spec
from bench.common import (
    bench_parser,
    emit_json,
    load_bench_data,
    machine,
    print_machine,
    print_table,
    ratio,
    set_threads,
    warm_up,
)

TARGET_RATIO = 0.7  # the ae's test MSE should be at most this fraction of PCA's


def pca_errors(x_train: np.ndarray, x_test: np.ndarray, components: int, seed: int = 0) -> dict[str, float]:
    """Fit PCA on flattened train images, reconstruct test images; MSE per pixel and seconds."""
    from sklearn.decomposition import PCA

    train = x_train.reshape(len(x_train), -1).astype(np.float32) / 255.0
    test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    t0 = time.perf_counter()
    pca = PCA(n_components=components, random_state=seed).fit(train)
    fit_s = time.perf_counter() - t0
    recon = pca.inverse_transform(pca.transform(test))
    return {"mse": float(((recon - test) ** 2).mean()),
            "mse_clipped": float(((np.clip(recon, 0.0, 1.0) - test) ** 2).mean()),
            "explained_variance": float(pca.explained_variance_ratio_.sum()),
            "seconds": fit_s}


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="ae epochs (default: TrainConfig's)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    info = machine()
    print_machine(info)

    data = load_bench_data(args.dataset, args.quick)
    spec = make_spec("ae", args.dataset)
    epochs = 1 if args.quick and args.epochs is None else args.epochs
    if epochs is not None:
        spec = replace(spec, train=replace(spec.train, epochs=epochs))
    code = spec.model.hidden[-1]
    print(f"{spec.label()} ({spec.train.epochs} epochs, batch {spec.train.batch_size}, lr {spec.train.lr:g}) "
          f"vs PCA({code}) on {data.name}: {len(data.x_train):,} train / {len(data.x_test):,} test images")

    warm_up(build_model(spec.family, spec.model))
    t0 = time.perf_counter()
    result = train_spec(spec, data, device="cpu")
    ae_seconds = time.perf_counter() - t0
    ae = reconstruction_metrics(result.model, np.array(data.x_test))  # a copy: torch warns about read-only arrays
    pca = pca_errors(data.x_train, data.x_test, code)

    mse_ratio = ratio(ae["mse"], pca["mse"])
    print_table(f"Test reconstruction error with a {code}-number code (mean squared error per pixel, pixels in [0, 1])",
                ["method", "test MSE / pixel", "vs PCA", "fit seconds"],
                [[f"ae {'-'.join(map(str, spec.model.hidden))}, {spec.train.epochs} epochs", ae["mse"], mse_ratio,
                  ae_seconds],
                 [f"PCA({code})", pca["mse"], 1.0, pca["seconds"]],
                 [f"PCA({code}), clipped to [0, 1]", pca["mse_clipped"], ratio(pca["mse_clipped"], pca["mse"]), None]])
    print(f"\nae / PCA = {mse_ratio:.3f} (target <= {TARGET_RATIO}); PCA({code}) explains "
          f"{pca['explained_variance']:.1%} of the training variance")

    payload = {
        "benchmark": "pca_baseline", "dataset": data.name, "machine": info, "quick": args.quick,
        "model": spec.label(), "epochs": spec.train.epochs, "components": code,
        "ae_test_mse": ae["mse"], "ae_test_bce_sum": ae["bce_sum"], "ae_seconds": ae_seconds,
        "pca_test_mse": pca["mse"], "pca_test_mse_clipped": pca["mse_clipped"], "pca_seconds": pca["seconds"],
        "pca_explained_variance": pca["explained_variance"],
        "ratio": mse_ratio, "target_ratio": TARGET_RATIO, "meets_target": bool(mse_ratio <= TARGET_RATIO),
    }
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
