"""A process-wide store of fitted maps, so a map one browser session fitted shows at once in every other."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping

import numpy as np

from aecore.errors import ConfigError
from aecore.maps.projection import Progress, Projection, method_params, project_codes


class ProjectionCache:
    """A thread-safe, bounded, least-recently-used store of fitted projections.

    A hit returns the very same `Projection` object. Keys name the model and settings, not the
    codes themselves, so `model_key` must identify the code set (model and the images encoded).
    """

    def __init__(self, maxsize: int = 32):
        if maxsize < 1:
            raise ConfigError(f"cache size must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple, Projection] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[tuple, threading.Event] = {}  # keys being computed now -> set when done

    @staticmethod
    def key(model_key: Hashable, method: str, params: Mapping[str, Hashable], n_points: int, seed: int) -> tuple:
        """The cache key of a projection: parameters sorted by name, so their order never matters."""
        return (model_key, method, tuple(sorted(params.items())), int(n_points), int(seed))

    def get_or_compute(self, key: tuple, compute: Callable[[], Projection]) -> Projection:
        """The cached projection for `key`, computing and storing it on a miss.

        `compute` runs outside the cache's lock, so a slow t-SNE does not block hits on other keys.
        A thread that misses a key another thread is computing waits for that result instead of
        fitting the same map again (a lecture hall asks for the same map at once); if that
        computation fails, the waiting thread computes it itself.
        """
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key]
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    break
            running.wait()
        try:
            projection = compute()
            with self._lock:
                self._entries[key] = projection
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
                return projection
        finally:
            with self._lock:
                del self._running[key]
            running.set()

    def project(
        self,
        model_key: Hashable,
        codes: np.ndarray,
        method: str = "pca",
        *,
        seed: int = 0,
        perplexity: float = 30.0,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        progress: Progress | None = None,
    ) -> Projection:
        """`project_codes` through the cache; arguments as there, plus the code set's `model_key`."""
        params = method_params(method, perplexity, n_neighbors, min_dist)
        key = self.key(model_key, method, params, len(codes), seed)
        return self.get_or_compute(
            key, lambda: project_codes(codes, method, seed=seed, progress=progress, **params)
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: tuple) -> bool:
        """Whether the projection for `key` is stored now (a computation in progress does not count)."""
        with self._lock:
            return key in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
