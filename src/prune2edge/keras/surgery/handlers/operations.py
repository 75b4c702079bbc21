"""Keras 3 operations written in a functional graph without a layer (`x + 3`, `x * gate`,
`keras.ops.hard_silu(x)`, `keras.ops.mean(x, axis=(1, 2))`, `keras.ops.reshape`): registered
as "ops." and their class name. Elementwise ones pass channels or tie them like merge layers;
reductions over other axes and reshapes that keep the last axis whole pass them; the rest
stop them (the default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .... import _compat
from ..layout import Layout, Tracer
from .base import Channels, Inbound, LayerHandler, Sliced, input_shape, register_handler
from .channelwise import ReshapeHandler
from .merges import ConcatenateHandler, MergeHandler

UNARY = ("Relu", "Relu6", "Sigmoid", "Silu", "HardSigmoid", "HardSilu", "Tanh", "Gelu", "Elu",
         "Selu", "LeakyRelu", "Softplus", "Softsign", "LogSigmoid", "HardTanh", "Negative",
         "Absolute", "Square", "Sqrt", "Exp", "Erf", "Reciprocal", "Clip")
BINARY = ("Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum", "Power")


@register_handler(*(f"ops.{name}" for name in (*UNARY, *BINARY)))
class ElementwiseOpHandler(MergeHandler):
    """Channel by channel: one tensor (with plain numbers) passes its channels; several are
    tied like a merge layer's inputs. A constant with more than one value would not follow
    removed channels, so it stops them."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        if not _scalar_constants(layer):
            return LayerHandler.trace(self, layer, inputs, tracer)
        return inputs[0] if len(inputs) == 1 else super().trace(layer, inputs, tracer)


@register_handler("ops.Mean", "ops.Max", "ops.Min", "ops.Sum")
class ReductionOpHandler(LayerHandler):
    """A reduction over axes other than the last (a spatial mean) keeps channels."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        rank = len(input_shape(layer))
        axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
        if layer.axis is None or any(int(a) % rank in (0, rank - 1) for a in axes):
            return super().trace(layer, inputs, tracer)
        return inputs[0]


@register_handler("ops.Reshape")
class ReshapeOpHandler(ReshapeHandler):
    """`keras.ops.reshape` adding or removing axes of size 1 only (its new shape names the
    batch axis too)."""

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        channels = ins[0].channels
        if channels is None:
            return Sliced(weights, None)
        return Sliced(weights, channels, {"newshape": (*layer.newshape[:-1], len(channels))})


register_handler("ops.Concatenate")(ConcatenateHandler)


def _scalar_constants(layer: Any) -> bool:
    """Whether every argument of the operation's call that is not a tensor is one number."""
    keras = _compat.keras3_engine()
    for args, kwargs, _ in _compat.keras3_calls(layer):
        for value in (*args, *kwargs.values()):
            if not isinstance(value, keras.KerasTensor) and value is not None \
                    and np.size(value) != 1:
                return False
    return True
