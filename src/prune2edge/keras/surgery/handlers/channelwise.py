"""Layers that keep each channel on its own: activations, pooling, padding, normalisation,
depthwise convolutions, Flatten and channel-preserving Reshapes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..layout import Layout, Segment, Tracer
from ..lstsq import fit_depthwise
from .base import (
    Channels,
    Inbound,
    LayerHandler,
    Refit,
    Sliced,
    channels_last,
    input_shape,
    last_axis,
    output_shape,
    register_handler,
)


@register_handler(
    "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Softmax", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
    "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D", "ZeroPadding2D",
    "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Rescaling", "StochasticDepth")
class PassThroughHandler(LayerHandler):
    """Channels pass unchanged, each on its own (activations, dropout, pooling, padding)."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        if not self.follows(layer):
            return super().trace(layer, inputs, tracer)
        return inputs[0]

    def follows(self, layer: Any) -> bool:
        """Whether this layer keeps channels on the last axis, each on its own."""
        if type(layer).__name__ == "Softmax":
            return last_axis(layer, layer.axis)
        return channels_last(layer)


@register_handler("BatchNormalization", "LayerNormalization", "PReLU", "Normalization",
                  "LayerScale")
class PerChannelHandler(PassThroughHandler):
    """Channels pass; the layer holds weights per channel (the last axis), sliced along.
    Layer normalization then averages over fewer channels: the rebuilt model computes what a
    smaller model would, not exactly what the kept channels did."""

    def follows(self, layer: Any) -> bool:
        axis = getattr(layer, "axis", -1)
        return axis is None or last_axis(layer, axis)

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        channels = ins[0].channels
        if channels is None:
            return Sliced(weights, None)
        config = {"projection_dim": len(channels)} if hasattr(layer, "projection_dim") else None
        sliced = [np.take(w, channels, axis=-1) if w.ndim and w.shape[-1] == ins[0].width
                  else w for w in weights]
        return Sliced(sliced, channels, config)


@register_handler("DepthwiseConv1D", "DepthwiseConv2D")
class DepthwiseHandler(PassThroughHandler):
    """`depth_multiplier` filters per channel: channels pass (each repeated that many
    times), their filters follow."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        if not channels_last(layer):
            return super().trace(layer, inputs, tracer)
        multiplier = layer.depth_multiplier
        return tuple(Segment(s.source, s.width * multiplier, s.repeat * multiplier)
                     for s in inputs[0])

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        channels = ins[0].channels
        if channels is None:
            return Sliced(weights, None)
        kernel, *rest = weights
        multiplier = layer.depth_multiplier
        expanded = (channels[:, None] * multiplier + np.arange(multiplier)).ravel()
        return Sliced([np.take(kernel, channels, axis=-2),
                       *(np.take(b, expanded) for b in rest)], expanded)

    def macs(self, layer: Any) -> int:
        return (math.prod(output_shape(layer)[1:-1]) * math.prod(layer.kernel_size)
                * input_shape(layer)[-1] * layer.depth_multiplier)

    def refits(self, layer: Any) -> bool:
        return type(layer).__name__ == "DepthwiseConv2D"

    def refit(self, layer: Any, old: Any, case: Refit) -> tuple[float, float]:
        return fit_depthwise(layer, old, case.new_in, case.old_in, case.inbound, case.damping)


@register_handler("Flatten")
class FlattenHandler(PassThroughHandler):
    """Spreads channels over positions: channel c at position p becomes p * C + c."""

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        channels = ins[0].channels
        if channels is None:
            return Sliced(weights, None)
        shape = input_shape(layer)
        positions = int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
        return Sliced(weights, (np.arange(positions)[:, None] * shape[-1]
                                + channels[None, :]).ravel())


@register_handler("Reshape")
class ReshapeHandler(PassThroughHandler):
    """Channels pass when the last axis stays whole and only axes of size 1 are added or
    removed (the (N, C) -> (N, 1, 1, C) of a squeeze-excite block)."""

    def follows(self, layer: Any) -> bool:
        before, after = input_shape(layer)[1:], output_shape(layer)[1:]
        return (bool(before) and bool(after) and before[-1] == after[-1]
                and all(d == 1 for d in (*before[:-1], *after[:-1])))

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        channels = ins[0].channels
        if channels is None:
            return Sliced(weights, None)
        return Sliced(weights, channels,
                      {"target_shape": (*layer.target_shape[:-1], len(channels))})
