"""One lock around the first imports of scikit-learn, UMAP and openTSNE, whatever thread asks.

The dashboard serves each browser session from its own thread. Two threads importing overlapping
module graphs for the first time (scikit-learn pulls in scipy and pandas) can each be handed a module
the other has only half initialised: bench.load_test, 30 sessions on a fresh server, saw
"partially initialized module 'pandas' has no attribute 'Series'" from the PCA map and the linear probe
at once. Imports made under this lock happen one at a time; once loaded, the lock costs nothing more
than an uncontended acquire. The dashboard's figures take it too before plotly looks for pandas
(`app/figures.py`), since plotly reads a half-imported pandas from `sys.modules` without importing it.
"""
import threading

heavy_imports = threading.RLock()
