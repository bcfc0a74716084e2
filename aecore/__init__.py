"""aecore: Latent Lab's modeling core — datasets, autoencoder families, trainer, jobs, store, metrics, maps.

It never imports Streamlit: the dashboard, the CLI (`python -m aecore`), the tests and notebooks all
use the same API. Start from `aecore.spec.make_spec`, `aecore.runs.get_or_train` or
`aecore.jobs.default_registry`.
"""

__version__ = "0.1.0"
