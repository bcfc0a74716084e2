"""Looking inside trained autoencoders: digit preprocessing, code-space walks, metrics and 2-D maps.

Importing this package is cheap: its names are imported on first use (PEP 562), so the map worker
process can import `aecore.analysis.projection` without torch, and t-SNE (openTSNE), UMAP (numba) and
scikit-learn are imported by the functions that need them, the first time they run.
"""
from importlib import import_module

_EXPORTS = {
    "decode_codes": "latent",
    "decode_grid": "latent",
    "interpolate": "latent",
    "latent_grid_points": "latent",
    "sample_prior": "latent",
    "filter_concentration": "filters",
    "picture_correlation": "filters",
    "cosine_similarity_matrix": "metrics",
    "encode_images": "metrics",
    "filter_grid": "metrics",
    "linear_probe_accuracy": "metrics",
    "reconstruct_images": "metrics",
    "reconstruction_metrics": "metrics",
    "vae_metrics": "metrics",
    "MAX_IMAGE_BYTES": "preprocess",
    "MAX_IMAGE_PIXELS": "preprocess",
    "load_image_bytes": "preprocess",
    "mnist_normalize": "preprocess",
    "stratified_sample": "sampling",
    "Projection": "projection",
    "ProjectionCache": "projection",
    "project_codes": "projection",
    "warm_up_umap": "projection",
    "heavy_imports": "_imports",  # the lock the dashboard's figures take too (see aecore/analysis/_imports.py)
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
