"""Data in: sources (bundled MNIST, .npz, image folders, functions) read into arrays and fitted
to the model's input."""

from .dataset import KEYS, Dataset, RawData, split
from .fit import fit_to_model
from .loaders import load
from .spec import BUILTIN, DataSpec, check_source, is_builtin

__all__ = ["BUILTIN", "KEYS", "DataSpec", "Dataset", "RawData", "check_source", "fit_to_model",
           "is_builtin", "load", "split"]
