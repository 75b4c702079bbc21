"""What each layer of a model costs: parameters and multiply-accumulates per sample."""

from __future__ import annotations

import math
from typing import Any


def layer_costs(model: Any) -> dict[str, dict[str, int]]:
    """Parameters and multiply-accumulates per sample of every layer with weights."""
    costs = {}
    for layer in model.layers:
        params = int(layer.count_params())
        if params:
            costs[layer.name] = {"params": params, "macs": _macs(layer)}
    return costs


def _macs(layer: Any) -> int:
    kind = type(layer).__name__
    out_shape = layer.output_shape
    in_shape = layer.input_shape
    if kind == "Dense":
        positions = math.prod(d for d in in_shape[1:-1]) if len(in_shape) > 2 else 1
        return positions * in_shape[-1] * layer.units
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        kernel = math.prod(layer.kernel_size)
        groups = getattr(layer, "groups", 1)
        return math.prod(out_shape[1:-1]) * kernel * (in_shape[-1] // groups) * layer.filters
    if kind == "DepthwiseConv2D":
        return (math.prod(out_shape[1:-1]) * math.prod(layer.kernel_size) * in_shape[-1]
                * layer.depth_multiplier)
    if kind == "SeparableConv2D":
        depthwise = math.prod(out_shape[1:-1]) * math.prod(layer.kernel_size) * in_shape[-1] \
            * layer.depth_multiplier
        return depthwise + math.prod(out_shape[1:-1]) * in_shape[-1] * layer.depth_multiplier \
            * layer.filters
    return 0  # normalisation, embeddings: no multiply-accumulates worth counting
