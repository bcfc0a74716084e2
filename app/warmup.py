"""Work started in the background once per server so that pages open fast: the map worker process
(t-SNE and UMAP) and a thread that imports torch and the models while the first page is read."""
from __future__ import annotations

import os
import threading

from aecore.maps.worker import shared_worker

_warm_started = threading.Event()
# The warm-up waits this long after the first page's script: importing torch holds the GIL for long
# stretches, and the browser is still fetching that page's element scripts from this server.
WARMUP_DELAY_S = 1.0


def warmup_enabled() -> bool:
    return os.environ.get("LATENTLAB_WARMUP", "1") != "0"


def start_map_worker() -> None:
    """Start the map worker process (t-SNE and UMAP) if it is not running. Spawning it takes a few
    milliseconds of this process; its imports and numba warm-up run in the child, on another core."""
    if warmup_enabled():
        shared_worker().start()


def start_background_warmup() -> None:
    """Once per server, in a background thread: import torch and the models (the Home page needs
    neither), so that the next page is fast. scikit-learn is left to the PCA map and the probes that
    use it: importing it here delays the first UMAP map (bench.interaction)."""
    if _warm_started.is_set() or not warmup_enabled():
        return
    _warm_started.set()

    def warm():
        try:
            import aecore.latent  # noqa: F401 (torch and the models: what every other page imports first)
            import aecore.metrics  # noqa: F401
            from aecore.import_lock import heavy_imports
            with heavy_imports:  # every plotly figure needs it first (figures._figure)
                import pandas  # noqa: F401
        except Exception:  # a failed warm-up only costs speed later
            pass

    timer = threading.Timer(WARMUP_DELAY_S, warm)
    timer.name, timer.daemon = "warmup", True
    timer.start()
