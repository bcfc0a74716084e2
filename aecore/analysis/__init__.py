"""Looking inside trained autoencoders: digit preprocessing, code-space walks, metrics and 2-D maps.

Importing this package is cheap: t-SNE (openTSNE), UMAP (numba) and scikit-learn are imported by
the functions that need them, the first time they run.
"""
from aecore.analysis.latent import decode_codes, decode_grid, interpolate, latent_grid_points, sample_prior
from aecore.analysis.metrics import (
    cosine_similarity_matrix,
    encode_images,
    filter_grid,
    linear_probe_accuracy,
    reconstruct_images,
    reconstruction_metrics,
    vae_metrics,
)
from aecore.analysis.preprocess import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, load_image_bytes, mnist_normalize
from aecore.analysis.projection import Projection, ProjectionCache, project_codes, warm_up_umap

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "Projection",
    "ProjectionCache",
    "cosine_similarity_matrix",
    "decode_codes",
    "decode_grid",
    "encode_images",
    "filter_grid",
    "interpolate",
    "latent_grid_points",
    "linear_probe_accuracy",
    "load_image_bytes",
    "mnist_normalize",
    "project_codes",
    "reconstruct_images",
    "reconstruction_metrics",
    "sample_prior",
    "vae_metrics",
    "warm_up_umap",
]
