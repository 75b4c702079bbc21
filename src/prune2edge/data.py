"""Data sources: the bundled MNIST split or an .npz in the Keras layout, fitted to the model."""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

BUILTIN = {"mnist": "mnist-10k.npz"}
KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test splits already shaped and scaled for the model's input."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str = "<arrays>"
    preprocessing: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "train_samples": len(self.x_train),
            "test_samples": len(self.x_test),
            "sample_shape": list(self.x_train.shape[1:]),
            "num_classes": self.num_classes,
            "preprocessing": list(self.preprocessing),
        }

    def representative(self, count: int, seed: int) -> np.ndarray:
        """`count` training samples drawn without replacement, the same for the same seed."""
        rng = np.random.default_rng(seed)
        index = rng.choice(len(self.x_train), size=min(count, len(self.x_train)), replace=False)
        return self.x_train[np.sort(index)]


def is_builtin(source: str) -> bool:
    return source.startswith("builtin:")


def check_source(source: str, base_dir: Path) -> None:
    """Cheap checks that need no loading, run while the recipe is read."""
    if is_builtin(source):
        name = source.removeprefix("builtin:")
        if name not in BUILTIN:
            raise DataError(f"unknown bundled dataset {name!r}", f"data.source = {source!r}",
                            f"use one of: {', '.join('builtin:' + n for n in BUILTIN)}")
        return
    path = resolve_path(source, base_dir)
    if not path.is_file():
        raise DataError("data file not found", str(path),
                        "give a path to an .npz (relative to the recipe) or builtin:mnist")


def resolve_path(source: str, base_dir: Path) -> Path:
    path = Path(source).expanduser()
    return path if path.is_absolute() else base_dir / path


def load_arrays(source: str, base_dir: Path) -> dict[str, np.ndarray]:
    """The four Keras-layout arrays of a source, unmodified."""
    check_source(source, base_dir)
    if is_builtin(source):
        ref = resources.files("prune2edge") / "datasets" / BUILTIN[source.removeprefix("builtin:")]
        with resources.as_file(ref) as path:
            return _read_npz(path)
    return _read_npz(resolve_path(source, base_dir))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in KEYS if k not in npz.files]
            if missing:
                raise DataError(f"missing arrays {', '.join(missing)}", str(path),
                                f"an .npz needs {', '.join(KEYS)} (the Keras layout); "
                                f"it has {', '.join(npz.files) or 'none'}")
            return {k: npz[k] for k in KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot read the data file ({exc})", str(path),
                        "save it with numpy.savez(path, x_train=..., y_train=..., ...)") from None


def fit_to_model(arrays: dict[str, np.ndarray], input_shape: tuple[int, ...], num_classes: int,
                 source: str) -> Dataset:
    """Reshape, scale and check the arrays for a model with `input_shape` (no batch axis)."""
    steps: list[str] = []
    xs = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) == 0:
            raise DataError(f"the {split} split is empty", source,
                            f"x_{split} needs at least one sample")
        if len(x) != len(y):
            raise DataError(f"x_{split} has {len(x)} samples but y_{split} has {len(y)}", source,
                            "give one label per sample")
        xs[split] = _fit_samples(x, input_shape, split, source, steps)
    labels = {split: _labels(arrays[f"y_{split}"], num_classes, split, source, steps)
              for split in ("train", "test")}
    return Dataset(xs["train"], labels["train"], xs["test"], labels["test"], num_classes,
                   source, tuple(dict.fromkeys(steps)))


def _fit_samples(x: np.ndarray, input_shape: tuple[int, ...], split: str, source: str,
                 steps: list[str]) -> np.ndarray:
    sample = tuple(x.shape[1:])
    if sample != tuple(input_shape):
        if math.prod(sample) != math.prod(input_shape):
            raise DataError(
                f"data samples have shape {sample} but the model expects {tuple(input_shape)}",
                f"{source}: x_{split}",
                "use data whose samples match the model's input, or a model built for this data")
        x = x.reshape((len(x), *input_shape))
        steps.append(f"reshaped {sample} -> {tuple(input_shape)}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255.0)
        steps.append("scaled uint8 [0, 255] to float32 [0, 1]")
    elif not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"x_{split} has dtype {x.dtype}", source, "use uint8 images or floats")
    else:
        x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise DataError(f"x_{split} contains NaN or Inf values", source,
                        "clean or drop those samples")
    return x


def _labels(y: np.ndarray, num_classes: int, split: str, source: str,
            steps: list[str]) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == num_classes:
        y = y.argmax(axis=1)
        steps.append("one-hot labels to class indices")
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or _whole(y)):
        raise DataError(f"y_{split} must hold one class index per sample, got shape "
                        f"{y.shape} dtype {y.dtype}", source, "store integer class labels")
    y = y.astype(np.int64)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise DataError(
            f"y_{split} has labels {low}..{high} but the model has {num_classes} output units",
            source, f"labels must be in 0..{num_classes - 1}: fix the labels or the model's "
            "last layer")
    return y


def _whole(y: np.ndarray) -> bool:
    return np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
