"""Data sources: `builtin:mnist` (bundled), an .npz (Keras layout, or `x`/`y` plus a split) or
a function (`module:function`, `file.py:function`) returning arrays or a `tf.data.Dataset`,
read into arrays; a folder of images with one sub-folder per class, or TFRecord files,
listed so that their images are streamed (`stream.Stream`)."""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..errors import DataError
from ..sources import call_function, is_callable_source, resolve_path
from .dataset import KEYS, RawData, split
from .spec import BUILTIN, DataSpec, check_source, is_builtin, record_files
from .stream import ImageFiles, Records


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
    files = record_files(source, base_dir)
    if files:
        return _records(files, spec, seed, source)
    path = resolve_path(source, base_dir)
    if path.is_dir():
        return _image_folder(path, spec, seed)
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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _image_folder(path: Path, spec: DataSpec, seed: int) -> RawData:
    """The images in one sub-folder per class, listed (not read: they are streamed)."""
    classes = sorted(d.name for d in path.iterdir() if d.is_dir())
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (path / name).rglob("*")
                       if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        paths += [str(f) for f in files]
        labels += [label] * len(files)
    if not paths:
        raise DataError("the image folder has no images", str(path),
                        f"put {'/'.join(IMAGE_SUFFIXES)} files in one sub-folder per class")
    note = (f"streamed {len(paths)} images of {len(classes)} classes ({', '.join(classes)}) "
            "from the folder")
    return RawData(split(np.arange(len(paths)), np.array(labels), spec.test_split, seed),
                   str(path), (note,), reader=ImageFiles(np.array(paths)))


def _records(files: list[Path], spec: DataSpec, seed: int, source: str) -> RawData:
    """TFRecord files of `tf.train.Example`s: their labels read in one pass, their images
    left to be streamed."""
    tf = _compat.tf()
    feature = {spec.label_key: tf.io.FixedLenFeature([], tf.int64),
               spec.image_key: tf.io.FixedLenFeature([], tf.string)}
    names = [str(f) for f in files]
    try:
        labels = [batch for batch in tf.data.TFRecordDataset(names).map(
            lambda r: tf.io.parse_single_example(r, feature)[spec.label_key]).batch(
            4096).as_numpy_iterator()]
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as exc:
        raise DataError(f"cannot read the TFRecords ({exc.message.splitlines()[0]})", source,
                        f"write tf.train.Examples with a bytes feature {spec.image_key!r} "
                        f"(an encoded PNG/JPEG) and an int64 feature {spec.label_key!r}, or "
                        "set [data] image_key / label_key") from exc
    y = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    if len(y) == 0:
        raise DataError("the TFRecord files hold no records", source, "write some examples")
    note = f"streamed {len(y)} records from {len(files)} TFRecord file(s)"
    return RawData(split(np.arange(len(y)), y, spec.test_split, seed), source, (note,),
                   reader=Records(tuple(names), len(y), spec.image_key))
