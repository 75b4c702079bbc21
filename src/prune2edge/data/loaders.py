"""Data sources: `builtin:mnist` (bundled), an .npz (Keras layout, or `x`/`y` plus a split) or
a function (`module:function`, `file.py:function`) returning arrays or a `tf.data.Dataset`,
read into arrays; a folder of images with one sub-folder per class, or TFRecord files,
listed so that their images are streamed (`stream.Stream`)."""

from __future__ import annotations

import math
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..errors import DataError, first_line
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
    fix = "save it with numpy.savez(path, x_train=..., y_train=..., ...)"
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy")]
            keys = KEYS if all(k in names for k in KEYS) else ("x", "y")
            if not set(keys) <= set(names):
                raise DataError(f"missing arrays: it has {', '.join(names) or 'none'}",
                                str(path), f"an .npz needs {', '.join(KEYS)} (the Keras "
                                "layout), or x and y plus [data] test_split")
            for key in keys:
                _check_header(archive, key, path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot read the data file ({first_line(exc)})", str(path), fix) from exc
    return arrays if keys == KEYS else split(arrays["x"], arrays["y"], spec.test_split, seed)


def _check_header(archive: zipfile.ZipFile, key: str, path: Path) -> None:
    """Refuse an array that is a scalar or whose header declares more data than the file
    holds (a damaged or hand-made file), before NumPy allocates it."""
    member = archive.getinfo(f"{key}.npy")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(stream)
    if not shape:
        raise DataError(f"{key} is a single number, not an array of samples", str(path),
                        f"store one row per sample in {key}")
    if dtype.hasobject:
        raise DataError(f"{key} holds Python objects, which only unpickling could read",
                        str(path), f"store {key} as a numeric array")
    declared = math.prod(shape) * dtype.itemsize
    if declared > member.file_size:
        raise DataError(f"{key} declares shape {shape} of {dtype} ({declared:,} bytes) but the "
                        f"file holds {member.file_size:,}", str(path),
                        "the file is damaged: save the arrays again")


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
    labels = []
    for name in names:  # one file at a time, so that an error names the file
        try:
            labels += list(tf.data.TFRecordDataset(name).map(
                lambda r: tf.io.parse_single_example(r, feature)[spec.label_key]).batch(
                4096).as_numpy_iterator())
        except tf.errors.DataLossError as exc:
            raise DataError(f"the TFRecord file is damaged ({first_line(exc.message)})", name,
                            "write the file again, or leave it out of the pattern") from exc
        except tf.errors.InvalidArgumentError as exc:
            raise DataError(f"cannot read the TFRecords ({first_line(exc.message)})", name,
                            f"write tf.train.Examples with a bytes feature {spec.image_key!r} "
                            f"(an encoded PNG/JPEG) and an int64 feature {spec.label_key!r}, "
                            "or set [data] image_key / label_key") from exc
    y = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    if len(y) == 0:
        raise DataError("the TFRecord files hold no records", source, "write some examples")
    note = f"streamed {len(y)} records from {len(files)} TFRecord file(s)"
    return RawData(split(np.arange(len(y)), y, spec.test_split, seed), source, (note,),
                   reader=Records(tuple(names), len(y), spec.image_key))
