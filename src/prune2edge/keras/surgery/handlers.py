"""One handler per layer type: how channels (the last axis) flow through it while planning, and
how its weights are sliced when channels are removed (Torch-Pruning keeps one pruning function
per layer type the same way).

A handler answers two questions:
- `trace`: given the producers whose channels reach each input, which producers' channels
  does the output carry? It may tie producers into one group (residual merges) or block them
  (a layer that mixes channels in ways surgery does not follow).
- `slice`: given which old channels each input keeps (`None`: all), the layer's new weights
  and which old channels its output keeps.

Register a handler for another layer type with `@register_handler("MyLayer")`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

Channels = np.ndarray | None  # indices of the old channels kept; None: all of them
Sources = frozenset[str]  # the producers whose channels a tensor carries


class Tracer:
    """What planning records while handlers trace the graph: producers, ties and reasons."""

    def __init__(self, exclude: tuple[str, ...] = ()):
        self.exclude = exclude
        self.parent: dict[str, str] = {}  # union-find over producers tied by merges
        self.reasons: dict[str, list[str]] = {}

    def add_producer(self, name: str) -> None:
        self.parent[name] = name

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            name = self.parent[name]
        return name

    def tie(self, names: Sources) -> None:
        """Put every producer in `names` into one group (they must keep the same channels)."""
        root = self.find(min(names)) if names else ""
        for other in names:
            self.parent[self.find(other)] = root

    def block(self, names: Sources | set[str], reason: str) -> None:
        for name in names:
            self.reasons.setdefault(name, []).append(reason)


@dataclass(frozen=True)
class Sliced:
    """A layer after surgery: its weights, the old channels its output keeps, config changes."""

    weights: list[np.ndarray]
    channels: Channels
    config: dict[str, Any] | None = None


class LayerHandler:
    """The default, for layer types surgery does not know: channels stop here, and the
    producers that reach the layer stay whole."""

    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        tracer.block(_merged(inputs), f"its channels reach a {type(layer).__name__} layer "
                                      f"('{layer.name}')")
        return frozenset()

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        return Sliced(weights, ins[0] if ins else None)


HANDLERS: dict[str, LayerHandler] = {}
DEFAULT = LayerHandler()


def register_handler(*kinds: str) -> Callable[[type[LayerHandler]], type[LayerHandler]]:
    """Class decorator: handle the layer types (class names) `kinds` with this handler."""

    def register(cls: type[LayerHandler]) -> type[LayerHandler]:
        for kind in kinds:
            HANDLERS[kind] = cls()
        return cls

    return register


def handler_for(layer: Any) -> LayerHandler:
    return HANDLERS.get(type(layer).__name__, DEFAULT)


def _merged(inputs: Sequence[Sources]) -> Sources:
    return frozenset().union(*inputs)


def channels_last(layer: Any) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_last"


@register_handler("InputLayer")
class InputHandler(LayerHandler):
    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        return frozenset()


@register_handler("Dense", "Conv1D", "Conv2D")
class ProducerHandler(LayerHandler):
    """Makes its own channels (units/filters), which surgery may remove; its input weights
    follow the channels its input keeps."""

    WIDTH: ClassVar[dict[str, str]] = {"Dense": "units", "Conv1D": "filters", "Conv2D": "filters"}

    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        name, kind = layer.name, type(layer).__name__
        tracer.add_producer(name)
        if name in tracer.exclude or kind in tracer.exclude:
            tracer.block({name}, "listed in structural.exclude")
        if not channels_last(layer):
            tracer.block({name}, "channels_first layout")
        return frozenset({name})

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        kernel, *rest = weights
        if ins and ins[0] is not None:
            kernel = np.take(kernel, ins[0], axis=-2)
        if keep is None:
            return Sliced([kernel, *rest], None)
        width = self.WIDTH[type(layer).__name__]
        return Sliced([kernel[..., keep], *(bias[keep] for bias in rest)], keep,
                      {width: len(keep)})


@register_handler(
    "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Softmax", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
    "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D", "ZeroPadding2D",
    "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D")
class PassThroughHandler(LayerHandler):
    """Channels pass unchanged, each on its own (activations, dropout, pooling, padding)."""

    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        if not self.follows(layer):
            return super().trace(layer, inputs, tracer)
        return _merged(inputs)

    def follows(self, layer: Any) -> bool:
        """Whether this layer keeps channels on the last axis, each on its own."""
        if type(layer).__name__ == "Softmax":
            return layer.axis in (-1, len(layer.input_shape) - 1)
        return channels_last(layer)


@register_handler("BatchNormalization", "PReLU")
class PerChannelHandler(PassThroughHandler):
    """Channels pass unchanged; the layer holds one weight per channel, sliced along."""

    def follows(self, layer: Any) -> bool:
        if type(layer).__name__ != "BatchNormalization":
            return True
        axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
        return len(axes) == 1 and axes[0] in (-1, len(layer.input_shape) - 1)

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        channels = ins[0]
        if channels is None:
            return Sliced(weights, None)
        return Sliced([np.take(w, channels, axis=-1) for w in weights], channels)


@register_handler("DepthwiseConv2D")
class DepthwiseHandler(PassThroughHandler):
    """One filter per channel (depth_multiplier 1): channels pass, their filters follow."""

    def follows(self, layer: Any) -> bool:
        return layer.depth_multiplier == 1 and channels_last(layer)

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        channels = ins[0]
        if channels is None:
            return Sliced(weights, None)
        kernel, *rest = weights
        return Sliced([np.take(kernel, channels, axis=2), *(np.take(b, channels) for b in rest)],
                      channels)


@register_handler("Flatten")
class FlattenHandler(PassThroughHandler):
    """Spreads channels over positions: channel c at position p becomes p * C + c."""

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        channels = ins[0]
        if channels is None:
            return Sliced(weights, None)
        shape = layer.input_shape
        positions = int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
        return Sliced(weights, (np.arange(positions)[:, None] * shape[-1]
                                + channels[None, :]).ravel())


@register_handler("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
class ElementwiseHandler(LayerHandler):
    """Combines its inputs channel by channel: the producers feeding it must keep the same
    channels, so they form one group."""

    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        merged = _merged(inputs)
        if any(len(s) != 1 for s in inputs):
            tracer.block(merged, f"its channels meet other channels in {type(layer).__name__} "
                                 f"'{layer.name}' that cannot follow them (an input, or "
                                 "concatenated channels)")
        tracer.tie(merged)
        return merged


@register_handler("Concatenate")
class ConcatenateHandler(LayerHandler):
    """Joins channels: each input's kept channels, offset by the widths before it."""

    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        if layer.axis not in (-1, len(layer.output_shape) - 1):
            return super().trace(layer, inputs, tracer)
        return _merged(inputs)

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        if all(part is None for part in ins):
            return Sliced(weights, None)
        parts, offset = [], 0
        for index, part in enumerate(ins):
            width = layer.input_shape[index][-1]
            parts.append((np.arange(width) if part is None else part) + offset)
            offset += width
        return Sliced(weights, np.concatenate(parts))


@register_handler("SeparableConv2D")
class InputSlicerHandler(LayerHandler):
    """Consumes channels (its input weights shrink with them) but is never pruned itself."""

    def trace(self, layer: Any, inputs: Sequence[Sources], tracer: Tracer) -> Sources:
        return frozenset()

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Channels],
              keep: Channels) -> Sliced:
        depthwise, pointwise, *rest = weights
        channels = ins[0]
        if channels is not None:
            multiplier = layer.depth_multiplier
            depthwise = np.take(depthwise, channels, axis=2)
            expanded = (channels[:, None] * multiplier + np.arange(multiplier)).ravel()
            pointwise = np.take(pointwise, expanded, axis=2)
        return Sliced([depthwise, pointwise, *rest], None)
