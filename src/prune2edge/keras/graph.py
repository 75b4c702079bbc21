"""The layer graph of a Sequential or functional tf_keras model, and what each layer costs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import _compat
from ..errors import ModelError


@dataclass(frozen=True)
class Graph:
    """A functional model's layers in topological order, with their inbound layers."""

    model: Any  # functional (a Sequential is re-expressed as a functional model)
    config: dict[str, Any]
    inbound: dict[str, list[str]]  # layer name -> names of the layers feeding it, in order
    outputs: list[str]  # names of the layers whose outputs are the model's outputs

    @property
    def layers(self) -> list[Any]:
        return self.model.layers

    def layer(self, name: str) -> Any:
        return self.model.get_layer(name)


def graph_of(model: Any) -> Graph:
    keras = _compat.keras()
    if isinstance(model, keras.Sequential):
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    config = model.get_config()
    inbound = {}
    for layer in config["layers"]:
        nodes = layer["inbound_nodes"]
        if len(nodes) > 1:
            raise ModelError(f"layer {layer['name']!r} is shared ({len(nodes)} calls)",
                             model.name, "structural pruning needs each layer called once")
        inbound[layer["name"]] = [entry[0] for entry in nodes[0]] if nodes else []
    outputs = [entry[0] for entry in config["output_layers"]]
    return Graph(model, config, inbound, outputs)


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
