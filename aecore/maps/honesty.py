"""How far a 2-D map of codes can be trusted: its trustworthiness and leave-one-out k-NN label accuracy
measured against the codes themselves (`map_honesty`), what its distances mean (`map_caveat`), and the
warnings its settings call for (`settings_warnings`), such as a perplexity that does not suit the number
of points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aecore.import_lock import heavy_imports

NEIGHBOURS = 10  # the k of both figures: a point's 10 nearest neighbours
# sklearn's trustworthiness sorts an N x N distance matrix: 0.07 s at 1,000 codes, 0.4 s at 2,000, 1.8 s at
# 5,000 (2-core machine, random 32-d codes), so larger maps are measured on a seeded sample of this many.
TRUST_MAX_POINTS = 2000
LOW_PERPLEXITY = 10  # below this t-SNE breaks classes into small clumps of no meaning (Wattenberg et al. 2016)
HIGH_SHARE = 0.25  # a perplexity or UMAP neighbourhood over this share of the points reaches across classes


@dataclass(frozen=True)
class MapHonesty:
    """What a map keeps of its codes.

    Attributes
    ----------
    trustworthiness : float
        sklearn's trustworthiness at k = `k`, in [0, 1]: 1 when every point's k map neighbours are among
        its nearest in code space too; it falls as the map puts strangers next to each other.
    trust_points : int
        How many points it was measured on (a seeded sample above TRUST_MAX_POINTS).
    knn_map, knn_codes : float
        Leave-one-out k-NN label accuracy of the 2-D points and of the codes.
    k : int
    """

    trustworthiness: float
    trust_points: int
    knn_map: float
    knn_codes: float
    k: int


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = NEIGHBOURS) -> float:
    """Leave-one-out k-nearest-neighbour accuracy: each point's label by majority vote of its k
    nearest other points (ties go to the smaller label)."""
    with heavy_imports:
        from sklearn.neighbors import NearestNeighbors

    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    k = min(k, len(points) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    rows = np.arange(len(points))[:, None]
    # Drop each point itself; with duplicate points it need not come first, so drop it where it is
    # and otherwise drop the farthest neighbour.
    is_self = idx == rows
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(len(idx)), drop] = False
    neighbours = idx[keep].reshape(len(idx), k)
    classes, coded = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(points), len(classes)), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(points)), k), coded[neighbours].ravel()), 1)
    return float((votes.argmax(axis=1) == coded).mean())


def map_honesty(codes: np.ndarray, points: np.ndarray, labels: np.ndarray, *, k: int = NEIGHBOURS,
                max_trust_points: int = TRUST_MAX_POINTS, seed: int = 0) -> MapHonesty:
    """Trustworthiness and k-NN accuracy of a map (`points`, (N, 2)) of `codes` (N, D) with `labels` (N,).

    Raises ValueError when the shapes disagree or there are too few points for `k` neighbours.
    """
    with heavy_imports:
        from sklearn.manifold import trustworthiness

    codes = np.asarray(codes, dtype=np.float32)
    points = np.asarray(points, dtype=np.float32)
    if not len(codes) == len(points) == len(labels):
        raise ValueError(f"{len(codes)} codes, {len(points)} points and {len(labels)} labels do not match")
    if len(codes) < 2 * k + 2:  # sklearn's trustworthiness needs k < N / 2
        raise ValueError(f"need at least {2 * k + 2} points for {k} neighbours, got {len(codes)}")
    sample = np.arange(len(codes))
    if len(codes) > max_trust_points:
        sample = np.sort(np.random.default_rng(seed).choice(len(codes), max_trust_points, replace=False))
    trust = trustworthiness(codes[sample], points[sample], n_neighbors=k)
    return MapHonesty(float(trust), len(sample), knn_accuracy(points, labels, k), knn_accuracy(codes, labels, k), k)


def map_caveat(method: str) -> str:
    """What distances on a map of `method` ("pca", "tsne" or "umap") do and do not mean, in one sentence."""
    if method == "pca":
        return ("PCA is a linear shadow of the codes: distances along its two axes are real, but digits far "
                "apart in the other directions can land on top of each other.")
    return (f"On a {'t-SNE' if method == 'tsne' else 'UMAP'} map only who sits next to whom means something: "
            "distances between clusters and the sizes of clusters mean little.")


def settings_warnings(method: str, params: dict, n_points: int) -> list[str]:
    """One sentence per setting that makes this map's distances or shapes mislead further, for `method`
    with `params` (as `method_params` returns them) on `n_points` codes; PCA has no settings to warn of."""
    notes = []
    if method == "tsne":
        perplexity = params["perplexity"]
        if perplexity < LOW_PERPLEXITY:
            notes.append(f"Perplexity {perplexity:g} is low: t-SNE breaks classes into small clumps "
                         "that need not exist in the codes.")
        if perplexity > HIGH_SHARE * n_points:
            notes.append(f"Perplexity {perplexity:g} is high for {n_points:,} points: each point tries to keep "
                         "more than a quarter of the map close, so clusters merge.")
    if method == "umap":
        neighbours = params["n_neighbors"]
        if neighbours < 5:
            notes.append(f"{neighbours} neighbours is few: UMAP sees only tiny neighbourhoods, so where "
                         "the pieces lie relative to each other is arbitrary.")
        if neighbours > HIGH_SHARE * n_points:
            notes.append(f"{neighbours} neighbours is many for {n_points:,} points: each neighbourhood "
                         "reaches across classes, so clusters merge.")
        if params["min_dist"] == 0.0:
            notes.append("Minimum distance 0 packs points on top of each other: dense clumps look smaller "
                         "than they are.")
    return notes
