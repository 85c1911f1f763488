"""Training data: the dataset table (:mod:`gpbench.data.catalog`), toy samplers and image loaders.

The loaders own download, checksum and "which file goes where" errors (gpbench.DataError).
"""

from gpbench.data.catalog import DATASETS, FIGURE1_DATASETS, Dataset, DevData, dev_data, get_dataset, make_stream

__all__ = ["DATASETS", "FIGURE1_DATASETS", "Dataset", "DevData", "dev_data", "get_dataset", "make_stream"]
