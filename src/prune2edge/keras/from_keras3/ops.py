"""Keras 3 operations a functional graph records without a layer (`x + 3`, `x * s`,
`keras.ops.relu6`, `keras.ops.mean`, ...), rebuilt from tf_keras layers that compute the same:
merge layers for two tensors, `Rescaling` (x · scale + offset) for a tensor and a number,
clipped ReLUs for relu6, clip and the hard activations, global pooling for means and maxima
over the spatial axes, `Reshape`, `Permute` and `Concatenate`.

`builder(op, args, is_tensor)` reads a recorded call and returns what makes the tf_keras
layers from the translated tensors, or raises `Unsupported` with the reason."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Builder = Callable[[Sequence[Any], Any], Any]  # (call arguments, translated; tf_keras) -> output
MERGES = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply"}
ARITHMETIC = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide"}
ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Silu": "swish", "Softplus": "softplus"}
POOLS = {"Mean": "Average", "Max": "Max"}


def activation(name: str) -> Callable[[Any, Any, str], Any] | None:
    """Layers for a Keras 3 activation that tf_keras lacks or defines differently (its
    hard_sigmoid is 0.2 x + 0.5, Keras 3's relu6(x + 3) / 6), or None."""
    return {"hard_sigmoid": _hard_sigmoid, "hard_silu": hard_silu,
            "hard_swish": hard_silu}.get(name)


class Unsupported(Exception):
    """An operation no tf_keras layer computes exactly."""


def builder(op: Any, args: Sequence[Any], is_tensor: Callable[[Any], bool]) -> Builder:
    kind, name = type(op).__name__, op.name
    if kind in ARITHMETIC:
        return _arithmetic(kind, name, args, is_tensor)
    if kind in ACTIVATIONS:
        return lambda t, k: k.layers.Activation(ACTIVATIONS[kind], name=name)(t[0])
    if kind in ("Relu", "Relu6"):
        cap = 6.0 if kind == "Relu6" else None
        return lambda t, k: k.layers.ReLU(max_value=cap, name=name)(t[0])
    if kind == "Negative":
        return lambda t, k: k.layers.Rescaling(-1.0, name=name)(t[0])
    if kind == "HardSigmoid":
        return lambda t, k: _hard_sigmoid(k, t[0], name)
    if kind == "HardSilu":
        return lambda t, k: hard_silu(k, t[0], name)
    if kind == "Clip":
        return lambda t, k: _clip(k, t[0], float(op.x_min), float(op.x_max), name)
    if kind in POOLS:
        return _pool(kind, op, name, len(args[0].shape))
    if kind == "Reshape":
        shape = tuple(op.newshape)
        if shape[0] not in (-1, None) or -1 in shape[1:]:
            raise Unsupported(f"reshapes to {shape}, not keeping the batch axis first")
        return lambda t, k: k.layers.Reshape(shape[1:], name=name)(t[0])
    if kind == "Transpose":
        axes = None if op.axes is None else tuple(op.axes)
        if axes is None or axes[0] != 0:
            raise Unsupported(f"transposes with axes {axes}, moving the batch axis")
        return lambda t, k: k.layers.Permute(axes[1:], name=name)(t[0])
    if kind == "Concatenate":
        if not all(is_tensor(x) for x in args[0]):
            raise Unsupported("concatenates constants")
        return lambda t, k: k.layers.Concatenate(axis=op.axis, name=name)(list(t[0]))
    raise Unsupported("no tf_keras layer computes it")


def _arithmetic(kind: str, name: str, args: Sequence[Any],
                is_tensor: Callable[[Any], bool]) -> Builder:
    first, second = (is_tensor(a) for a in args[:2])
    if first and second:
        if kind not in MERGES:
            raise Unsupported("divides a tensor by a tensor")
        return lambda t, k: getattr(k.layers, MERGES[kind])(name=name)([t[0], t[1]])
    constant = _scalar(args[1] if first else args[0])
    position = 0 if first else 1
    if kind == "Add":
        scale, offset = 1.0, constant
    elif kind == "Subtract":
        scale, offset = (1.0, -constant) if first else (-1.0, constant)
    elif kind == "Multiply":
        scale, offset = constant, 0.0
    elif first:
        scale, offset = 1.0 / constant, 0.0
    else:
        raise Unsupported("divides a number by a tensor")
    return lambda t, k: k.layers.Rescaling(scale, offset, name=name)(t[position])


def _scalar(value: Any) -> float:
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        raise Unsupported(f"combines a tensor with a constant of shape {array.shape}")
    return float(array.reshape(()))


def hard_silu(keras: Any, x: Any, name: str) -> Any:
    """x * hard_sigmoid(x) (Keras 3's hard_silu, alias hard_swish)."""
    return keras.layers.Multiply(name=name)([x, _hard_sigmoid(keras, x, f"{name}_gate")])


def _hard_sigmoid(keras: Any, x: Any, name: str) -> Any:
    """relu6(x + 3) / 6, as Keras 3 defines it: clip(x / 6 + 0.5, 0, 1)."""
    shifted = keras.layers.Rescaling(1.0 / 6.0, 0.5, name=f"{name}_affine")(x)
    return keras.layers.ReLU(max_value=1.0, name=name)(shifted)


def _clip(keras: Any, x: Any, low: float, high: float, name: str) -> Any:
    if low == 0.0:
        return keras.layers.ReLU(max_value=high, name=name)(x)
    shifted = keras.layers.Rescaling(1.0, -low, name=f"{name}_shift")(x)
    capped = keras.layers.ReLU(max_value=high - low, name=f"{name}_relu")(shifted)
    return keras.layers.Rescaling(1.0, low, name=name)(capped)


def _pool(kind: str, op: Any, name: str, rank: int) -> Builder:
    axis = op.axis if isinstance(op.axis, list | tuple) else [op.axis]
    axes = sorted(int(a) % rank for a in axis) if op.axis is not None else None
    spatial = {4: [1, 2], 3: [1]}.get(rank)
    if axes is None or axes != spatial or getattr(op, "initial", None) is not None:
        raise Unsupported(f"takes the {kind.lower()} over axes {op.axis} of a rank-{rank} "
                          "tensor (only the spatial axes translate)")
    layer = f"Global{POOLS[kind]}Pooling{rank - 2}D"
    return lambda t, k: getattr(k.layers, layer)(keepdims=bool(op.keepdims), name=name)(t[0])
