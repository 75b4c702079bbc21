"""Samples as a source gives them (RawData) and as the model takes them (Dataset): arrays, or
streams read from disk as needed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError
from .stream import Reader, Stream

KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test splits already shaped and scaled for the model's input."""

    x_train: np.ndarray | Stream
    y_train: np.ndarray
    x_test: np.ndarray | Stream
    y_test: np.ndarray
    num_classes: int
    source: str = "<arrays>"
    preprocessing: tuple[str, ...] = field(default=())
    executes_user_code: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "train_samples": len(self.x_train),
            "test_samples": len(self.x_test),
            "sample_shape": list(self.x_train.shape[1:]),
            "num_classes": self.num_classes,
            "preprocessing": list(self.preprocessing),
            "streamed": isinstance(self.x_train, Stream),
            "executes_user_code": self.executes_user_code,
        }

    def digest(self) -> str:
        """A hash of the samples and labels as the model takes them (a stream's: of its files,
        see `Stream.digest`), so that changed data is noticed."""
        digest = hashlib.sha256()
        for part in (self.x_train, self.y_train, self.x_test, self.y_test):
            if isinstance(part, Stream):
                digest.update(part.digest().encode())
            else:
                array = np.ascontiguousarray(part)
                digest.update(f"{array.dtype}{array.shape}".encode())
                digest.update(array.data)
        return digest.hexdigest()

    def representative(self, count: int, seed: int) -> np.ndarray:
        """`count` training samples drawn without replacement, the same for the same seed."""
        return self.x_train[self._draw(count, seed)]

    def labelled(self, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """`count` training samples and their labels, drawn as `representative` draws."""
        index = self._draw(count, seed)
        return self.x_train[index], self.y_train[index]

    def _draw(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        index = rng.choice(len(self.x_train), size=min(count, len(self.x_train)), replace=False)
        return np.sort(index)


@dataclass(frozen=True, eq=False)
class RawData:
    """A source's arrays before they are fitted to a model, and how they were obtained. For a
    streamed source (`reader` set), `x_train` and `x_test` hold the reader's positions."""

    arrays: dict[str, np.ndarray]
    source: str
    notes: tuple[str, ...] = ()
    executes_user_code: bool = False
    reader: Reader | None = None


def split(x: np.ndarray, y: np.ndarray, test_split: float, seed: int) -> dict[str, np.ndarray]:
    """A seeded shuffle, then the last `test_split` of it held out for testing."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise DataError("x and y must be arrays with one row per sample, not single values",
                        "data", "return or store arrays of samples and labels")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} samples but y has {len(y)}", "data",
                        "give one label per sample")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - max(1, round(len(x) * test_split)) if len(x) > 1 else len(x)
    train, test = order[:cut], order[cut:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}
