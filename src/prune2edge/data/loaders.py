"""Data sources read into arrays: `builtin:mnist` (bundled), an .npz (Keras layout, or `x`/`y`
plus a split), a folder of images with one sub-folder per class, or a function
(`module:function`, `file.py:function`) returning arrays or a `tf.data.Dataset`."""

from __future__ import annotations

import math
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..errors import DataError
from ..sources import call_function, is_callable_source, resolve_path
from .dataset import KEYS, RawData, split
from .spec import BUILTIN, DataSpec, check_source, is_builtin


def load(spec: DataSpec, base_dir: Path, input_shape: tuple[int, ...], seed: int = 0) -> RawData:
    """The source's train and test arrays (a split made with `seed` if it has none)."""
    source = spec.source
    check_source(source, base_dir)
    if is_builtin(source):
        ref = resources.files(__package__) / "datasets" / BUILTIN[source.removeprefix("builtin:")]
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
                        "save it with numpy.savez(path, x_train=..., y_train=..., ...)") from exc


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
                        "put the images in one sub-folder per class") from exc
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
