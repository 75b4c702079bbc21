"""Least-squares reconstruction after structural pruning (He et al., 2017; ThiNet, Luo et al.,
2017): layer by layer in order, each layer of the smaller model whose inputs changed and whose
handler can refit it (Dense, Conv2D, DepthwiseConv2D) is refit so that its output before the
activation, on calibration samples as the smaller model sees them, matches the original
layer's at the channels it kept. The fit is pulled towards the sliced weights by `damping` (a
share of the inputs' mean energy), so that a few samples cannot make it wild. Needs
calibration inputs only."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...progress import Task
from ..graph import Graph
from ..reconstruct import layer_inputs
from .handlers import Refit, handler_for
from .rebuild import slice_layers


def refit(graph: Graph, keep: dict[str, np.ndarray], pruned: Any, x: np.ndarray,
          damping: float, task: Task | None = None) -> list[dict[str, Any]]:
    """Refit `pruned` (rebuilt from `graph` with `keep`) in place; one row per refit layer
    with its output error (a share of the original output's energy) before and after.
    `task` advances once per layer that could be refit (`refittable` counts them)."""
    original = graph.model
    slices = slice_layers(graph, keep)
    rows = []
    for layer in filter(_refits, pruned.layers):
        (task or Task()).advance(status=layer.name)
        old = original.get_layer(layer.name)
        new_in, old_in = layer_inputs(pruned, layer, x), layer_inputs(original, old, x)
        if new_in.shape == old_in.shape and np.array_equal(new_in, old_in):
            continue  # nothing upstream changed
        inbound = graph.inbound[layer.name][0]
        before, after = handler_for(layer).refit(layer, old, Refit(
            new_in, old_in, slices[layer.name].channels, slices[inbound].channels, damping))
        rows.append({"layer": layer.name, "output_error_before": before,
                     "output_error_after": after})
    return rows


def refittable(model: Any) -> int:
    """How many layers of `model` `refit` may refit."""
    return sum(map(_refits, model.layers))


def _refits(layer: Any) -> bool:
    return handler_for(layer).refits(layer)
