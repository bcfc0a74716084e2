"""Reload a model the dashboard trained and encode a digit, as in a notebook (run from the repository root,
with the same AECORE_HOME as the dashboard)."""
from aecore.data import load_dataset
from aecore.metrics import encode_images, reconstruct_images
from aecore.store import ModelStore

store = ModelStore()  # $AECORE_HOME/models, where the dashboard keeps what it trains
meta = store.list()[0]  # newest first; each has "key", "label" ("ae 256-32") and "spec"
stored = store.load(meta["key"])
data = load_dataset(stored.spec.dataset)
digit = data.x_test[:1]  # (1, 28, 28) uint8; a drawing in [0, 1] works too
code = encode_images(stored.model, digit)  # (1, D) float32: a VAE gives its posterior mean
rebuilt = reconstruct_images(stored.model, digit)  # (1, 28, 28) in [0, 1]
print(f"{meta['label']}: digit {data.y_test[0]} -> code {code.shape} {code[0, :4].round(2)} -> {rebuilt.shape}")
