"""Layers that make channels: Dense and convolutions (grouped ones pass channels in whole
groups), and separable convolutions (a depthwise step, then a pointwise producer)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...reconstruct import supports
from ..layout import Layout, Tracer, width
from ..lstsq import fit_matrix
from .base import (
    Channels,
    Inbound,
    LayerHandler,
    Refit,
    Sliced,
    channels_last,
    input_shape,
    out_width,
    output_shape,
    register_handler,
)


@register_handler("InputLayer")
class InputHandler(LayerHandler):
    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        return tracer.fixed_channels(layer.name, out_width(layer),
                                     f"the model's input '{layer.name}'")


@register_handler("Dense", "Conv1D", "Conv2D", "Conv3D")
class ProducerHandler(LayerHandler):
    """Makes its own channels (units/filters), which surgery may remove; its input weights
    follow the channels its input keeps. A grouped convolution whose groups map inputs to
    outputs one to one passes channels through instead, in whole groups."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        name, kind = layer.name, type(layer).__name__
        groups = getattr(layer, "groups", 1)
        if groups > 1:
            return self._grouped(layer, inputs, tracer, groups)
        layout = tracer.producer(name, out_width(layer))
        if name in tracer.exclude or kind in tracer.exclude:
            tracer.block({name}, "listed in structural.exclude")
        if not channels_last(layer):
            tracer.block({name}, "channels_first layout")
        return layout

    def _grouped(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer,
                 groups: int) -> Layout:
        size = width(inputs[0]) // groups
        if width(inputs[0]) != out_width(layer) or not channels_last(layer):
            return self.stop(layer, inputs, tracer, f"grouped convolution '{layer.name}' "
                                                    f"(groups={groups}) changes the width")
        if any(s.width % size or s.repeat > 1 for s in inputs[0]):
            return self.stop(layer, inputs, tracer, f"the groups of convolution '{layer.name}' "
                                                    "straddle channels of different sources")
        tracer.step(inputs[0], size)
        return inputs[0]

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        kernel, *rest = weights
        groups = getattr(layer, "groups", 1)
        channels = ins[0].channels if ins else None
        if groups > 1:  # whole groups: the kernel's input axis (one group's) stays
            if channels is None:
                return Sliced(weights, None)
            size = ins[0].width // groups
            return Sliced([kernel[..., channels], *(b[channels] for b in rest)], channels,
                          {"filters": len(channels), "groups": len(channels) // size})
        if channels is not None:
            kernel = np.take(kernel, channels, axis=-2)
        if keep is None:
            return Sliced([kernel, *rest], None)
        key = "units" if type(layer).__name__ == "Dense" else "filters"
        return Sliced([kernel[..., keep], *(bias[keep] for bias in rest)], keep,
                      {key: len(keep)})

    def macs(self, layer: Any) -> int:
        in_shape, out_shape = input_shape(layer), output_shape(layer)
        if type(layer).__name__ == "Dense":
            positions = math.prod(in_shape[1:-1]) if len(in_shape) > 2 else 1
            return positions * in_shape[-1] * layer.units
        groups = getattr(layer, "groups", 1)
        return (math.prod(out_shape[1:-1]) * math.prod(layer.kernel_size)
                * (in_shape[-1] // groups) * layer.filters)

    def refits(self, layer: Any) -> bool:
        return supports(layer)

    def refit(self, layer: Any, old: Any, case: Refit) -> tuple[float, float]:
        return fit_matrix(layer, old, case.new_in, case.old_in, case.kept, case.damping)


@register_handler("SeparableConv1D", "SeparableConv2D")
class SeparableHandler(ProducerHandler):
    """A depthwise step (its filters follow the input's channels) then a pointwise producer."""

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        depthwise, pointwise, *rest = weights
        channels = ins[0].channels
        if channels is not None:
            multiplier = layer.depth_multiplier
            depthwise = np.take(depthwise, channels, axis=-2)
            expanded = (channels[:, None] * multiplier + np.arange(multiplier)).ravel()
            pointwise = np.take(pointwise, expanded, axis=-2)
        if keep is None:
            return Sliced([depthwise, pointwise, *rest], None)
        return Sliced([depthwise, pointwise[..., keep], *(b[keep] for b in rest)], keep,
                      {"filters": len(keep)})

    def macs(self, layer: Any) -> int:
        positions = math.prod(output_shape(layer)[1:-1])
        depthwise = positions * math.prod(layer.kernel_size) * input_shape(layer)[-1] \
            * layer.depth_multiplier
        return depthwise + positions * input_shape(layer)[-1] * layer.depth_multiplier \
            * layer.filters

    def refits(self, layer: Any) -> bool:
        return False
