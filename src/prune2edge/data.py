"""Data sources and preprocessing: arrays in whatever form users keep them, fitted to the model.

Sources: `builtin:mnist` (bundled), an .npz (Keras layout, or `x`/`y` plus a split), a folder
of images with one sub-folder per class, or a function (`module:function`,
`file.py:function`) returning arrays or a `tf.data.Dataset`. Preprocessing (channels,
resize, flatten, scale) follows from the model's input shape unless the recipe says
otherwise, and every step taken is listed in the report.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _compat
from .errors import DataError, RecipeError
from .sources import call_function, is_callable_source, resolve_path

BUILTIN = {"mnist": "mnist-10k.npz"}
KEYS = ("x_train", "y_train", "x_test", "y_test")
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as tf.image.rgb_to_grayscale


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """The recipe's [data] table."""

    source: str = "builtin:mnist"
    test_split: float = 0.2  # share held out for testing when the source has no test split
    scale: float | Literal["auto", "none"] = "auto"  # auto: uint8 -> [0, 1]; or a factor
    resize: bool = True  # resize images to the model's input height and width
    channels: Literal["auto", "keep"] = "auto"  # auto: gray <-> RGB to match the model

    def __post_init__(self) -> None:
        if not 0.0 < self.test_split < 1.0:
            raise RecipeError(f"test_split must be in (0, 1), got {self.test_split}",
                              "test_split", "hold out a fraction such as 0.2")


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
    executes_user_code: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "train_samples": len(self.x_train),
            "test_samples": len(self.x_test),
            "sample_shape": list(self.x_train.shape[1:]),
            "num_classes": self.num_classes,
            "preprocessing": list(self.preprocessing),
            "executes_user_code": self.executes_user_code,
        }

    def representative(self, count: int, seed: int) -> np.ndarray:
        """`count` training samples drawn without replacement, the same for the same seed."""
        rng = np.random.default_rng(seed)
        index = rng.choice(len(self.x_train), size=min(count, len(self.x_train)), replace=False)
        return self.x_train[np.sort(index)]


@dataclass(frozen=True, eq=False)
class RawData:
    """A source's arrays before they are fitted to a model, and how they were obtained."""

    arrays: dict[str, np.ndarray]
    source: str
    notes: tuple[str, ...] = ()
    executes_user_code: bool = False


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
    if is_callable_source(source):
        return
    path = resolve_path(source, base_dir)
    if not path.exists():
        raise DataError("data file not found", str(path),
                        "give an .npz or an image folder (relative to the recipe), a "
                        "module:function, or builtin:mnist")


def load(spec: DataSpec, base_dir: Path, input_shape: tuple[int, ...], seed: int = 0) -> RawData:
    """The source's train and test arrays (a split made with `seed` if it has none)."""
    source = spec.source
    check_source(source, base_dir)
    if is_builtin(source):
        ref = resources.files("prune2edge") / "datasets" / BUILTIN[source.removeprefix("builtin:")]
        with resources.as_file(ref) as path:
            return RawData(_read_npz(path, spec, seed), source)
    if is_callable_source(source):
        arrays, notes = _from_function(call_function(source, base_dir, DataError), spec, seed,
                                       input_shape, source)
        return RawData(arrays, source, notes, executes_user_code=True)
    path = resolve_path(source, base_dir)
    if path.is_dir():
        arrays, notes = _image_folder(path, input_shape, spec, seed)
        return RawData(arrays, source, notes)
    return RawData(_read_npz(path, spec, seed), source)


def _read_npz(path: Path, spec: DataSpec, seed: int) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if all(k in npz.files for k in KEYS):
                return {k: npz[k] for k in KEYS}
            if {"x", "y"} <= set(npz.files):
                return split(npz["x"], npz["y"], spec.test_split, seed)
            raise DataError(f"missing arrays: it has {', '.join(npz.files) or 'none'}", str(path),
                            f"an .npz needs {', '.join(KEYS)} (the Keras layout), or x and y "
                            "plus [data] test_split")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot read the data file ({exc})", str(path),
                        "save it with numpy.savez(path, x_train=..., y_train=..., ...)") from None


def split(x: np.ndarray, y: np.ndarray, test_split: float, seed: int) -> dict[str, np.ndarray]:
    """A seeded shuffle, then the last `test_split` of it held out for testing."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} samples but y has {len(y)}", "data",
                        "give one label per sample")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - max(1, round(len(x) * test_split)) if len(x) > 1 else len(x)
    train, test = order[:cut], order[cut:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def _from_function(result: Any, spec: DataSpec, seed: int, input_shape: tuple[int, ...],
                   source: str) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Arrays from what a data function returned (see the module docstring for the forms)."""
    if isinstance(result, dict) and all(k in result for k in KEYS):
        return {k: np.asarray(result[k]) for k in KEYS}, ()
    if isinstance(result, dict) and {"x", "y"} <= set(result):
        return split(result["x"], result["y"], spec.test_split, seed), ("split x/y",)
    if _is_tf_dataset(result):
        x, y = _materialize(result, input_shape, source)
        return split(x, y, spec.test_split, seed), ("read a tf.data.Dataset, split it",)
    if isinstance(result, tuple | list):
        if len(result) == 4:
            return dict(zip(KEYS, map(np.asarray, result), strict=True)), ()
        if len(result) == 2 and all(_is_tf_dataset(r) for r in result):
            (x_tr, y_tr), (x_te, y_te) = (_materialize(r, input_shape, source) for r in result)
            return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}, (
                "read train and test tf.data.Datasets",)
        if len(result) == 2 and all(isinstance(r, tuple | list) and len(r) == 2 for r in result):
            (x_tr, y_tr), (x_te, y_te) = result  # the keras.datasets load_data() form
            return dict(zip(KEYS, map(np.asarray, (x_tr, y_tr, x_te, y_te)), strict=True)), ()
        if len(result) == 2:
            return split(result[0], result[1], spec.test_split, seed), ("split x/y",)
    raise DataError(f"the data function returned a {type(result).__name__}", source,
                    "return (x_train, y_train, x_test, y_test), ((x, y), (x, y)), (x, y), "
                    "a dict of those arrays, or a tf.data.Dataset of (x, y)")


def _is_tf_dataset(value: Any) -> bool:
    return type(value).__module__.startswith("tensorflow") and hasattr(value, "element_spec")


def _materialize(dataset: Any, input_shape: tuple[int, ...],
                 source: str) -> tuple[np.ndarray, np.ndarray]:
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise DataError("the tf.data.Dataset does not yield (x, y) pairs", source,
                        "map it to (features, label) pairs")
    shape = spec[0].shape
    if shape.rank and (shape[0] is None or shape.rank == len(input_shape) + 1):
        dataset = dataset.unbatch()  # batched: count samples, not batches
    xs, ys = [], []
    for x, y in dataset.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise DataError("the tf.data.Dataset is empty", source, "give it some samples")
    return np.stack(xs), np.stack(ys)


def _image_folder(path: Path, input_shape: tuple[int, ...], spec: DataSpec,
                  seed: int) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Images in one sub-folder per class, read with Keras' directory loader."""
    height, width, channels = _image_geometry(input_shape)
    keras = _compat.keras()
    try:
        dataset = keras.utils.image_dataset_from_directory(
            path, labels="inferred", label_mode="int", batch_size=None, shuffle=False,
            color_mode={1: "grayscale", 3: "rgb", 4: "rgba"}[channels],
            image_size=(height, width), interpolation="bilinear")
    except ValueError as exc:
        raise DataError(f"cannot read the image folder ({exc})", str(path),
                        "put the images in one sub-folder per class") from None
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image)
        labels.append(label)
    if not images:
        raise DataError("the image folder has no images", str(path),
                        "put .png/.jpg/.bmp/.gif files in one sub-folder per class")
    x = np.clip(np.round(np.stack(images)), 0, 255).astype(np.uint8)
    classes = ", ".join(dataset.class_names)
    note = (f"read {len(x)} images of {len(dataset.class_names)} classes ({classes}) as "
            f"{height}x{width}x{channels} (bilinear resize)")
    return split(x, np.asarray(labels), spec.test_split, seed), (note,)


def _image_geometry(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Height, width and channels images must have for a model with this input shape."""
    if len(input_shape) == 3 and input_shape[-1] in (1, 3, 4):
        return input_shape[0], input_shape[1], input_shape[-1]
    if len(input_shape) == 2:
        return input_shape[0], input_shape[1], 1
    size = math.prod(input_shape)
    for channels in (1, 3):
        side = math.isqrt(size // channels)
        if side * side * channels == size:
            return side, side, channels
    raise DataError(f"cannot tell the image size for a model whose input is {input_shape}",
                    "data.source", "give the model an image-shaped input, or use an .npz")


def fit_to_model(raw: RawData, input_shape: tuple[int, ...], num_classes: int,
                 spec: DataSpec | None = None) -> Dataset:
    """Reshape, convert, resize, scale and check the arrays for a model with `input_shape`
    (no batch axis) and `num_classes` outputs."""
    spec = spec or DataSpec(source=raw.source)
    steps: list[str] = list(raw.notes)
    arrays = raw.arrays
    xs = {}
    for split_name in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{split_name}"]), np.asarray(arrays[f"y_{split_name}"])
        if len(x) == 0:
            raise DataError(f"the {split_name} split is empty", raw.source,
                            f"x_{split_name} needs at least one sample")
        if len(x) != len(y):
            raise DataError(f"x_{split_name} has {len(x)} samples but y_{split_name} has "
                            f"{len(y)}", raw.source, "give one label per sample")
        xs[split_name] = _fit_samples(x, input_shape, spec, f"{raw.source}: x_{split_name}",
                                      steps)
    labels = {s: _labels(np.asarray(arrays[f"y_{s}"]), num_classes, s, raw.source, steps)
              for s in ("train", "test")}
    return Dataset(xs["train"], labels["train"], xs["test"], labels["test"], num_classes,
                   raw.source, tuple(dict.fromkeys(steps)), raw.executes_user_code)


def _fit_samples(x: np.ndarray, input_shape: tuple[int, ...], spec: DataSpec, where: str,
                 steps: list[str]) -> np.ndarray:
    was_uint8 = x.dtype == np.uint8
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DataError(f"the samples have dtype {x.dtype}", where, "use numbers")
    x = x.astype(np.float32, copy=False)
    if len(input_shape) == 3 and x.ndim in (3, 4):
        x = _fit_images(x, input_shape, spec, where, steps)
    sample = tuple(x.shape[1:])
    if sample != tuple(input_shape):
        if math.prod(sample) != math.prod(input_shape):
            raise DataError(
                f"data samples have shape {sample} but the model expects {tuple(input_shape)}",
                where, "use data whose samples match the model's input, or a model built for "
                "this data")
        x = x.reshape((len(x), *input_shape))
        steps.append(f"reshaped {sample} -> {tuple(input_shape)}")
    if spec.scale == "auto" and was_uint8:
        x = x / np.float32(255.0)
        steps.append("scaled uint8 [0, 255] to float32 [0, 1]")
    elif isinstance(spec.scale, float):
        x = x * np.float32(spec.scale)
        steps.append(f"multiplied by {spec.scale:g}")
    if not np.isfinite(x).all():
        raise DataError("the samples contain NaN or Inf values", where,
                        "clean or drop those samples")
    return x


def _fit_images(x: np.ndarray, input_shape: tuple[int, ...], spec: DataSpec, where: str,
                steps: list[str]) -> np.ndarray:
    """Channels and size of images (N, H, W[, C]) for a model taking (H', W', C')."""
    height, width, channels = input_shape
    if x.ndim == 3:
        x = x[..., None]
    have = x.shape[-1]
    if have != channels and spec.channels == "auto":
        if have == 1 and channels == 3:
            x = np.repeat(x, 3, axis=-1)
            steps.append("gray -> RGB (channel repeated)")
        elif have in (3, 4) and channels == 1:
            x = (x[..., :3] @ LUMA)[..., None]
            steps.append("RGB -> gray (BT.601 luma)")
        elif have == 4 and channels == 3:
            x = x[..., :3]
            steps.append("RGBA -> RGB (alpha dropped)")
    if x.shape[-1] != channels:
        raise DataError(f"images have {x.shape[-1]} channels but the model expects {channels}",
                        where, 'set [data] channels = "auto" or use matching images')
    if x.shape[1:3] != (height, width):
        if not spec.resize:
            raise DataError(f"images are {x.shape[1]}x{x.shape[2]} but the model expects "
                            f"{height}x{width}", where, "set [data] resize = true")
        before = f"{x.shape[1]}x{x.shape[2]}"
        x = _compat.tf().image.resize(x, (height, width), method="bilinear").numpy()
        steps.append(f"resized {before} -> {height}x{width} (bilinear)")
    return x


def _labels(y: np.ndarray, num_classes: int, split_name: str, source: str,
            steps: list[str]) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == num_classes:
        y = y.argmax(axis=1)
        steps.append("one-hot labels to class indices")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or _whole(y)):
        raise DataError(f"y_{split_name} must hold one class index per sample, got shape "
                        f"{y.shape} dtype {y.dtype}", source, "store integer class labels")
    y = y.astype(np.int64)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise DataError(
            f"y_{split_name} has labels {low}..{high} but the model has {num_classes} output "
            "units", source, f"labels must be in 0..{num_classes - 1}: fix the labels or the "
            "model's last layer")
    return y


def _whole(y: np.ndarray) -> bool:
    return np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
