"""How far a map can be trusted (aecore.maps.honesty): trustworthiness and 10-NN accuracy against the
codes, and the notes a map's method and settings call for."""
from __future__ import annotations

import numpy as np
import pytest

from aecore.maps import method_params
from aecore.maps.honesty import map_caveat, map_honesty, settings_warnings


@pytest.fixture
def clustered():
    """Three well separated classes in 8-d, 40 codes each."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 8))
    labels = np.repeat(np.arange(3), 40)
    return (centres[labels] + rng.normal(0, 0.5, (120, 8))).astype(np.float32), labels


def test_a_map_that_keeps_the_codes_is_trusted_and_a_shuffled_one_is_not(clustered):
    codes, labels = clustered
    kept = map_honesty(codes, codes[:, :2] * 3.0, labels)  # a scaled shadow keeps well separated clusters
    shuffled = map_honesty(codes, np.random.default_rng(1).permutation(codes[:, :2]), labels)
    assert kept.knn_codes == shuffled.knn_codes == 1.0
    assert kept.knn_map == 1.0 and shuffled.knn_map < 0.6
    assert kept.trustworthiness > 0.9 > 0.6 > shuffled.trustworthiness
    assert kept.trust_points == 120 and kept.k == 10


def test_trust_of_a_large_map_is_measured_on_a_seeded_sample(clustered):
    codes, labels = clustered
    small = map_honesty(codes, codes[:, :2], labels, max_trust_points=50)
    assert small.trust_points == 50
    assert small == map_honesty(codes, codes[:, :2], labels, max_trust_points=50)
    with pytest.raises(ValueError, match="do not match"):
        map_honesty(codes, codes[:10, :2], labels)


def test_tsne_and_umap_maps_warn_that_distances_mean_little_and_pca_says_what_it_keeps():
    assert "distances between clusters" in map_caveat("tsne") and "UMAP" in map_caveat("umap")
    assert "linear" in map_caveat("pca")
    assert settings_warnings("pca", method_params("pca"), 1000) == []
    assert settings_warnings("tsne", method_params("tsne", perplexity=30), 1000) == []
    assert "low" in settings_warnings("tsne", method_params("tsne", perplexity=5), 1000)[0]
    assert "high for 250 points" in settings_warnings("tsne", method_params("tsne", perplexity=100), 250)[0]
    assert settings_warnings("umap", method_params("umap", n_neighbors=15), 1000) == []
    few, zero = settings_warnings("umap", method_params("umap", n_neighbors=2, min_dist=0.0), 1000)
    assert "few" in few and "on top of each other" in zero
    assert "many for 250" in settings_warnings("umap", method_params("umap", n_neighbors=100), 250)[0]
