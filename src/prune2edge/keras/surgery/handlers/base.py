"""One handler per layer type: everything structural pruning knows about that type, in one class
(Torch-Pruning keeps one pruning function per layer type the same way).

A handler answers:
- `trace`: given the layout of each input (`layout.Layout`), what is the output's layout? It
  may make new channels (a producer), tie inputs together (elementwise merges), or keep the
  sources that reach it whole with a reason (a layer that mixes channels).
- `slice`: given which old channels each input keeps (`None`: all) and its width, the layer's
  new weights, which old channels its output keeps, and any config changes.
- `macs`: its multiply-accumulates per sample (the report's and tune's cost model).
- `refits` / `refit`: whether and how the least-squares refit after pruning fits its weights.

Register a handler for another layer type with `@register_handler("MyLayer")`; Keras 3
operations written without a layer (`x + 3`, `keras.ops.mean(x, axis=(1, 2))`) are registered
as "ops." and their class name ("ops.Add", "ops.Mean").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .... import _compat
from ..layout import Layout, Tracer, sources

Channels = np.ndarray | None  # indices of the old channels kept; None: all of them


class Inbound(NamedTuple):
    """One input of a layer while rebuilding: the old channels it keeps, and its old width."""

    channels: Channels
    width: int


class Refit(NamedTuple):
    """One layer to refit: its inputs in the pruned and in the original model, the old
    channels its output and its (first) input keep (`None`: all), and the damping."""

    new_in: np.ndarray
    old_in: np.ndarray
    kept: Channels
    inbound: Channels
    damping: float


@dataclass(frozen=True)
class Sliced:
    """A layer after surgery: its weights, the old channels its output keeps, config changes."""

    weights: list[np.ndarray]
    channels: Channels
    config: dict[str, Any] | None = None


def output_shape(layer: Any) -> Any:
    """The shape of a layer's output (a list of shapes for several), batch axis included."""
    return _shape(layer, "output")


def input_shape(layer: Any) -> Any:
    """The shape of a layer's input (a list of shapes for several), batch axis included."""
    return _shape(layer, "input")


def _shape(layer: Any, end: str) -> Any:
    if not _compat.is_keras3_node(layer):
        return getattr(layer, f"{end}_shape")  # tf_keras says it
    tensors = getattr(layer, end)
    return [tuple(t.shape) for t in tensors] if isinstance(tensors, list | tuple) \
        else tuple(tensors.shape)


def out_width(layer: Any) -> int:
    """The size of the layer's output's last axis (0 when it has several outputs)."""
    shape = output_shape(layer)
    if isinstance(shape, list) and len(shape) == 1:  # an InputLayer's
        shape = shape[0]
    return int(shape[-1]) if isinstance(shape, tuple) and shape[-1] else 0


def channels_last(layer: Any) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_last"


def last_axis(layer: Any, axis: Any) -> bool:
    """Whether `axis` (an int or a one-element list) is the last axis of the layer's input."""
    axes = list(axis) if isinstance(axis, list | tuple) else [axis]
    shape = input_shape(layer)
    rank = len(shape) if isinstance(shape, tuple) else 0
    return len(axes) == 1 and axes[0] in (-1, rank - 1)


class LayerHandler:
    """The default, for layer types surgery does not know: channels stop here, the sources
    that reach the layer stay whole, and its output is fixed."""

    def trace(self, layer: Any, inputs: Sequence[Layout], tracer: Tracer) -> Layout:
        what = "operation" if _compat.is_keras3_operation(layer) else "layer"
        return self.stop(layer, inputs, tracer, f"its channels reach a {type(layer).__name__} "
                                                f"{what} ('{layer.name}')")

    @staticmethod
    def stop(layer: Any, inputs: Sequence[Layout], tracer: Tracer, reason: str) -> Layout:
        tracer.block(sources(inputs), reason)
        return tracer.fixed_channels(layer.name, out_width(layer),
                                     f"the output of {type(layer).__name__} '{layer.name}'")

    def slice(self, layer: Any, weights: list[np.ndarray], ins: Sequence[Inbound],
              keep: Channels) -> Sliced:
        return Sliced(weights, ins[0].channels if ins else None)

    def macs(self, layer: Any) -> int:
        """Multiply-accumulates per sample (0: none worth counting, e.g. normalisation)."""
        return 0

    def refits(self, layer: Any) -> bool:
        """Whether `refit` can fit this layer's weights after its inputs were pruned."""
        return False

    def refit(self, layer: Any, old: Any, case: Refit) -> tuple[float, float]:
        """Fit `layer` (pruned) to `old`'s output; its output error before and after."""
        raise NotImplementedError(f"{type(layer).__name__} layers cannot be refit")


HANDLERS: dict[str, LayerHandler] = {}
DEFAULT = LayerHandler()


def register_handler(*kinds: str) -> Callable[[type[LayerHandler]], type[LayerHandler]]:
    """Class decorator: handle the layer types (class names) `kinds` with this handler."""

    def register(cls: type[LayerHandler]) -> type[LayerHandler]:
        for kind in kinds:
            HANDLERS[kind] = cls()
        return cls

    return register


def kind(layer: Any) -> str:
    """What handlers are registered for: a layer's class name; for a Keras 3 operation
    without a layer, "ops." and its class name ("ops.Add" for `x + 3`)."""
    name = type(layer).__name__
    return f"ops.{name}" if _compat.is_keras3_operation(layer) else name


def handler_for(layer: Any) -> LayerHandler:
    return HANDLERS.get(kind(layer), DEFAULT)
