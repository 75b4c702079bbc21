"""Layers that combine tensors: elementwise merges (which tie their inputs' channels),
concatenation, and TensorFlow ops written in a functional graph (`x + 3`, `x * y`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .... import _compat
from ..layout import Layout, Tracer, width
from .base import (
    Channels,
    Inbound,
    LayerHandler,
    Sliced,
    out_width,
    output_shape,
    register_handler,
)


class MergeHandler(LayerHandler):
    """Combines its inputs channel by channel (with broadcasting): the sources feeding it
    must keep the same channels, so they form one group."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        where = f"{type(layer).__name__} '{layer.name}'"
        if not tracer.tie(inputs, where):
            return tracer.fixed_channels(layer.name, out_width(layer), f"the output of {where}")
        return max(inputs, key=width)

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        widest = max(ins, key=lambda inbound: inbound.width)
        return Sliced(weights, widest.channels)


register_handler("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                 "CustomScaleLayer")(MergeHandler)


@register_handler("Concatenate")
class ConcatenateHandler(LayerHandler):
    """Joins channels: each input's kept channels, offset by the widths before it."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        if layer.axis not in (-1, len(output_shape(layer)) - 1):
            return super().trace(layer, inputs, tracer)
        return tuple(segment for layout in inputs for segment in layout)

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        if all(inbound.channels is None for inbound in ins):
            return Sliced(weights, None)
        parts, offset = [], 0
        for inbound in ins:
            kept = np.arange(inbound.width) if inbound.channels is None else inbound.channels
            parts.append(kept + offset)
            offset += inbound.width
        return Sliced(weights, np.concatenate(parts))


@register_handler("TFOpLambda")
class OpHandler(MergeHandler):
    """TensorFlow functions in a functional graph (`x + 3`, `x * y`, `tf.nn.relu6(x)`):
    elementwise ones pass channels or merge like their layer forms; others stop them."""

    ELEMENTWISE: ClassVar[set[str]] = {
        "__operators__.add", "__operators__.sub", "__operators__.truediv", "math.add",
        "math.subtract", "math.multiply", "math.truediv", "math.divide", "math.maximum",
        "math.minimum", "nn.relu", "nn.relu6", "math.sigmoid", "nn.silu", "nn.swish",
        "math.tanh", "nn.gelu", "nn.elu", "nn.leaky_relu", "nn.sigmoid", "math.abs",
        "math.square", "math.sqrt", "math.exp", "clip_by_value", "compat.v1.nn.relu6"}

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        function = layer.get_config().get("function")
        if function not in self.ELEMENTWISE or not _scalar_constants(layer):
            return LayerHandler.trace(self, layer, inputs, tracer)
        if len(inputs) == 1:
            return inputs[0]
        return super().trace(layer, inputs, tracer)


def _scalar_constants(layer: Any) -> bool:
    """Whether every argument of the op's call that is not a tensor is a plain scalar (a
    per-channel constant would not follow the removed channels)."""
    node = layer.inbound_nodes[0]
    values = [*node.call_args, *node.call_kwargs.values()]
    is_tensor = _compat.tf().is_tensor
    return all(isinstance(v, int | float | str | type(None)) or is_tensor(v) for v in values)
