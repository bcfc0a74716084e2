"""2-D maps of a code space: fitting PCA, t-SNE and UMAP (`projection`), keeping fitted maps for
every session of a server (`cache`), fitting t-SNE and UMAP in a child process (`worker`), and how far a
map keeps its codes' neighbours (`honesty`).

Nothing here imports torch: the map worker's child imports this package. scikit-learn, openTSNE and
UMAP are imported by the functions that need them, the first time they run.
"""
from aecore.maps.cache import ProjectionCache
from aecore.maps.projection import METHODS, Projection, method_params, project_codes, warm_up_umap

# The worker is not imported here: it runs as `python -m aecore.maps.worker`, after this package.
__all__ = ["METHODS", "Projection", "ProjectionCache", "method_params", "project_codes", "warm_up_umap"]
