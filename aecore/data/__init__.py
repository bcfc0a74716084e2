"""The data layer: IDX files, checksummed downloads, and the datasets the lab trains on.

`load_dataset` is the entry point; it returns an immutable `Dataset` of uint8 (N, 28, 28) images
and int64 labels split into train, validation and test. `read_idx` / `write_idx` handle the file
format and `fetch_files` the mirrors. Nothing here imports Streamlit.
"""

from aecore.data.datasets import (
    DATASET_NAMES,
    Dataset,
    data_home,
    default_dataset_name,
    full_mnist_on_disk,
    load_dataset,
)
from aecore.data.download import (
    FASHION_FILES,
    FASHION_MIRRORS,
    MNIST_FILES,
    MNIST_MIRRORS,
    fetch_files,
)
from aecore.data.idx import read_idx, write_idx

__all__ = [
    "DATASET_NAMES",
    "Dataset",
    "FASHION_FILES",
    "FASHION_MIRRORS",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "data_home",
    "default_dataset_name",
    "fetch_files",
    "full_mnist_on_disk",
    "load_dataset",
    "read_idx",
    "write_idx",
]
