"""What each layer of a model costs: parameters, and multiply-accumulates per sample as its
handler counts them."""

from __future__ import annotations

from typing import Any

from .handlers import handler_for


def layer_costs(model: Any) -> dict[str, dict[str, int]]:
    """Parameters and multiply-accumulates per sample of every layer with weights."""
    costs = {}
    for layer in model.layers:
        params = int(layer.count_params())
        if params:
            costs[layer.name] = {"params": params, "macs": handler_for(layer).macs(layer)}
    return costs
