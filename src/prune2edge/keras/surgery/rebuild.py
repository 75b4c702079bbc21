"""Rebuilding: a new model from the old one with smaller widths, every weight that sees a
removed channel sliced by its layer's handler: a tf_keras model from its config, a Keras 3
model by calling narrower copies of its layers and operations (`keras3_graph.replay`)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ... import _compat
from ...errors import ModelError
from ..graph import Graph
from ..keras3_graph import copy_node, node_weights, replay
from .handlers import Inbound, Sliced, handler_for, out_width


def rebuild(graph: Graph, keep: dict[str, np.ndarray]) -> Any:
    """A new model with only the `keep`-indexed channels of each producer (by layer name)."""
    slices = slice_layers(graph, keep)
    if graph.config is None:  # a Keras 3 graph
        return replay(graph.model, lambda node: (
            copy_node(node, graph.model, slices[node.name].config), slices[node.name].weights))
    keras = _compat.keras()
    config = copy.deepcopy(graph.config)
    layer_configs = {entry["name"]: entry["config"] for entry in config["layers"]}
    weights = {}
    for name, sliced in slices.items():
        weights[name] = sliced.weights
        layer_configs[name].update(sliced.config or {})
    model = keras.Model.from_config(config, custom_objects=graph.custom_objects)
    for layer in model.layers:
        layer.set_weights(weights[layer.name])
    return model


def slice_layers(graph: Graph, keep: dict[str, np.ndarray]) -> dict[str, Sliced]:
    """Each layer's weights, config changes and kept output channels (old indices) after
    the producers keep only their `keep`-indexed channels."""
    result: dict[str, Sliced] = {}
    for layer in graph.layers:
        ins = [Inbound(result[i].channels, out_width(graph.layer(i)))
               for i in graph.inbound[layer.name]]
        result[layer.name] = handler_for(layer).slice(layer, node_weights(layer), ins,
                                                      keep.get(layer.name))
    return result


def check_rebuilt(model: Any, sample: np.ndarray) -> None:
    """The rebuilt model runs (a slicing mistake would fail here, not in the converter)."""
    try:
        model(sample[:1], training=False)
    except Exception as exc:  # pragma: no cover - a bug in the surgery, reported plainly
        raise ModelError(f"the rebuilt model does not run ({exc})", model.name,
                         "report this model; exclude the layer named in the message") from exc
