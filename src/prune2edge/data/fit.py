"""Preprocessing: a source's arrays fitted to the model (channels, resize, reshape, scale,
labels), every step taken listed for the report."""

from __future__ import annotations

import math

import numpy as np

from .. import _compat
from ..errors import DataError, first_line
from .dataset import Dataset, RawData
from .spec import DataSpec
from .stream import Reader, Stream

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as tf.image.rgb_to_grayscale


def fit_to_model(raw: RawData, input_shape: tuple[int, ...], num_classes: int,
                 spec: DataSpec | None = None) -> Dataset:
    """Reshape, convert, resize, scale and check the arrays for a model with `input_shape`
    (no batch axis) and `num_classes` outputs."""
    spec = spec or DataSpec(source=raw.source)
    steps: list[str] = list(raw.notes)
    arrays = raw.arrays
    xs: dict[str, np.ndarray | Stream] = {}
    if raw.reader is not None:
        arrays, xs = _streams(raw, raw.reader, input_shape, spec, steps)
    for split_name in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{split_name}"]), np.asarray(arrays[f"y_{split_name}"])
        for name, array in ((f"x_{split_name}", x), (f"y_{split_name}", y)):
            if array.ndim == 0:
                raise DataError(f"{name} is a single value, not an array of samples",
                                raw.source, f"give {name} one row per sample")
        if len(x) == 0:
            raise DataError(f"the {split_name} split is empty", raw.source,
                            f"x_{split_name} needs at least one sample")
        if len(x) != len(y):
            raise DataError(f"x_{split_name} has {len(x)} samples but y_{split_name} has "
                            f"{len(y)}", raw.source, "give one label per sample")
        if raw.reader is None:
            xs[split_name] = _fit_samples(x, input_shape, spec,
                                          f"{raw.source}: x_{split_name}", steps)
    labels = {s: _labels(np.asarray(arrays[f"y_{s}"]), num_classes, s, raw.source, steps)
              for s in ("train", "test")}
    return Dataset(xs["train"], labels["train"], xs["test"], labels["test"], num_classes,
                   raw.source, tuple(dict.fromkeys(steps)), raw.executes_user_code)


def _streams(raw: RawData, reader: Reader, input_shape: tuple[int, ...], spec: DataSpec,
             steps: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray | Stream]]:
    """Streams of the reader's images as the model takes them; the labels in their order."""
    geometry = image_geometry(input_shape)
    height, width, channels = geometry
    have = _first_image_shape(reader)
    if have[-1] != channels:
        if spec.channels == "keep":
            raise DataError(f"images have {have[-1]} channels but the model expects {channels}",
                            raw.source, 'set [data] channels = "auto" or use matching images')
        steps.append(f"decoded with {channels} channel(s) (the files have {have[-1]})")
    if tuple(have[:2]) != (height, width):
        if not spec.resize:
            raise DataError(f"images are {have[0]}x{have[1]} but the model expects "
                            f"{height}x{width}", raw.source, "set [data] resize = true")
        steps.append(f"resized {have[0]}x{have[1]} -> {height}x{width} (bilinear)")
    if tuple(input_shape) != geometry:
        steps.append(f"reshaped {geometry} -> {tuple(input_shape)}")
    scale = {"auto": 1 / 255, "none": None}.get(spec.scale, spec.scale)  # type: ignore[arg-type]
    if scale is not None:
        steps.append("scaled uint8 [0, 255] to float32 [0, 1]" if spec.scale == "auto"
                     else f"multiplied by {scale:g}")
    arrays: dict[str, np.ndarray] = {}
    streams: dict[str, np.ndarray | Stream] = {}
    for name in ("train", "test"):
        positions = np.asarray(raw.arrays[f"x_{name}"])
        order = np.argsort(positions, kind="stable")
        arrays[f"x_{name}"] = positions[order]
        arrays[f"y_{name}"] = np.asarray(raw.arrays[f"y_{name}"])[order]
        streams[name] = Stream(reader, positions[order], geometry, tuple(input_shape),
                               None if scale is None else float(scale))
    steps.append("read as needed, not held in memory")
    return arrays, streams


def _first_image_shape(reader: Reader) -> tuple[int, ...]:
    """The first sample's image shape (height, width, channels), read from its file."""
    tf = _compat.tf()
    where, content = next(reader.encoded(np.zeros(1, np.int64)))
    try:
        return tuple(tf.io.decode_image(content, expand_animations=False).shape)
    except tf.errors.OpError as exc:
        raise DataError(f"cannot decode the image ({first_line(exc.message)})", where,
                        "replace the file with a readable image, or remove it") from exc


def image_geometry(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
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
