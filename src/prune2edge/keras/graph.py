"""The layer graph of a Sequential or functional model: a tf_keras model's read from its
config, a Keras 3 model's from its nodes (`keras3_graph`).

Nested models (a Sequential stem inside a functional model, as in ConvNeXt) are inlined first,
so every layer is a node of one graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .. import _compat
from ..errors import ModelError
from .model import custom_objects
from .nesting import inline_nested_models


@dataclass(frozen=True)
class Graph:
    """A functional model's layers (and a Keras 3 model's operations) in topological order,
    with their inbound layers."""

    model: Any  # functional (a Sequential is re-expressed as a functional model)
    layers: list[Any]  # the nodes: layers, and a Keras 3 graph's operations
    inbound: dict[str, list[str]]  # layer name -> names of the layers feeding it, in order
    outputs: list[str]  # names of the layers whose outputs are the model's outputs
    config: dict[str, Any] | None = None  # tf_keras: what `rebuild` rebuilds, narrower
    custom_objects: dict[str, type] = field(default_factory=dict)  # not tf_keras' own, by name

    @cached_property
    def _by_name(self) -> dict[str, Any]:
        return {layer.name: layer for layer in self.layers}

    def layer(self, name: str) -> Any:
        return self._by_name[name]


def graph_of(model: Any) -> Graph:
    """A tf_keras model's graph (`keras3_graph.keras3_graph` reads a Keras 3 model's)."""
    keras = _compat.keras()
    if isinstance(model, keras.Sequential):
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    model = inline_nested_models(model)
    config = model.get_config()
    inbound = {}
    for layer in config["layers"]:
        nodes = layer["inbound_nodes"]
        if len(nodes) > 1:
            raise ModelError(f"layer {layer['name']!r} is shared ({len(nodes)} calls)",
                             model.name, "structural pruning needs each layer called once")
        inbound[layer["name"]] = node_inputs(nodes[0]) if nodes else []
    outputs = [entry[0] for entry in config["output_layers"]]
    return Graph(model, model.layers, inbound, outputs, config, custom_objects(model))


def node_entries(node: list[Any]) -> list[list[Any]]:
    """A serialized call's entries `[layer, node_index, tensor_index, kwargs]`: a list of them,
    or (for TensorFlow ops called on one tensor) the single entry itself."""
    return [node] if node and isinstance(node[0], str) else node


def node_inputs(node: list[Any]) -> list[str]:
    """The layers whose outputs a serialized call reads: its entries, then tensors passed as
    keyword arguments (`tf.math.multiply(x, y=other)`), in order."""
    names = []
    for entry in node_entries(node):
        names.append(entry[0])
        if len(entry) > 3:
            names += _tensor_refs(entry[3])
    return names


def _tensor_refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [name for item in value.values() for name in _tensor_refs(item)]
    if isinstance(value, list | tuple):
        if (len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int)
                and isinstance(value[2], int)):
            return [value[0]]
        return [name for item in value for name in _tensor_refs(item)]
    return []
