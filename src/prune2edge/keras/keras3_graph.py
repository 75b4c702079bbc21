"""The layer graph of a Keras 3 functional or Sequential model, its operations without a
layer (`x + 3`, `keras.ops.mean`, `keras.ops.reshape`) nodes of it like its layers, and
models made again from it.

`replay` calls a model's layers and operations again on new inputs, each one made anew by a
function (a copy with the same weights; a narrower copy with sliced weights); nested models
are inlined on the way, so that every node of the new model is called once in one flat graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _compat
from ..errors import ModelError
from .graph import Graph

# A node of the old graph -> (its new layer or operation, the weights to give it).
Maker = Callable[[Any], tuple[Any, list[np.ndarray]]]


def keras3_graph(model: Any) -> Graph:
    """The graph of a Keras 3 model, nested models inlined (a flat copy, same weights)."""
    if not _compat.keras3_is_graph(model):
        raise ModelError("structural pruning needs a layer graph, and a subclassed model's "
                         "call() is Python code", model.name,
                         "build the model with the functional API or Sequential, or prune it "
                         "unstructured (prune stage)")
    flat = replay(model, lambda node: (copy_node(node, model), node_weights(node)))
    nodes = list(flat.operations)
    names = [node.name for node in nodes]
    if len(names) != len(set(names)):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ModelError(f"two layers or operations are named {duplicate!r}", model.name,
                         "give every layer of the model (nested models' included) its own name")
    inbound = {}
    for node in nodes:
        calls = list(_compat.keras3_calls(node))
        if len(calls) > 1:
            raise ModelError(f"layer {node.name!r} is shared ({len(calls)} calls)", model.name,
                             "structural pruning needs each layer called once")
        inbound[node.name] = [_compat.keras3_producer(t).name
                              for t in _tensors(calls[0][:2] if calls else ())]
    outputs = [_compat.keras3_producer(t).name for t in flat.outputs]
    return Graph(flat, nodes, inbound, outputs)


def replay(model: Any, make: Maker) -> Any:
    """A new functional model computing what `model` does, each of its layers and operations
    made by `make` and called on the new tensors; nested models inlined."""
    keras = _compat.keras3_engine()
    tensors: dict[int, Any] = {}
    inputs = []
    for tensor in model.inputs:
        new = keras.Input(batch_shape=tuple(tensor.shape), dtype=tensor.dtype,
                          name=_compat.keras3_producer(tensor).name)
        tensors[id(tensor)] = new
        inputs.append(new)
    _replay(model, tensors, {}, make)
    outputs = [tensors[id(t)] for t in model.outputs]
    return keras.Model(inputs if len(inputs) > 1 else inputs[0],
                       outputs if len(outputs) > 1 else outputs[0], name=model.name)


def _replay(model: Any, tensors: dict[int, Any], made: dict[int, Any], make: Maker) -> None:
    """Replay the calls `model`'s outputs come from into `tensors` (old tensor -> new, by
    id). A layer's other calls (elsewhere, or the graph a loaded Sequential built before its
    last) are left out."""
    keras = _compat.keras3_engine()
    needed = _needed(model)
    for node in _nodes(model):
        if isinstance(node, keras.layers.InputLayer):
            continue
        for args, kwargs, outputs in _compat.keras3_calls(node):
            if not any(id(t) in needed for t in outputs):
                continue
            if _compat.keras3_is_graph(node):  # a nested model: its nodes join this graph
                for inner, outer in zip(node.inputs, _tensors(args), strict=True):
                    tensors[id(inner)] = tensors[id(outer)]
                _replay(node, tensors, made, make)
                results = [tensors[id(t)] for t in node.outputs]
            else:
                first_call = id(node) not in made
                if first_call:
                    made[id(node)] = make(node)
                new, weights = made[id(node)]
                results = _flat(new(*_mapped(args, tensors), **_mapped(kwargs, tensors)))
                if weights and first_call:
                    new.set_weights(weights)
            for old, result in zip(outputs, results, strict=True):
                tensors[id(old)] = result


def _needed(model: Any) -> set[int]:
    """The tensors (by id) `model`'s outputs are computed from, inside `model`."""
    needed: set[int] = set()
    stack = list(model.outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) not in needed:
            needed.add(id(tensor))
            stack += _tensors(_compat.keras3_call_of(tensor))
    return needed


def copy_node(node: Any, model: Any, changes: dict[str, Any] | None = None) -> Any:
    """A new layer or operation like `node`, with its config `changes` (weights not set; a
    user's own classes found in `model`)."""
    if _compat.is_keras3_operation(node):  # (its serialized name would find the layer)
        return type(node).from_config({**node.get_config(), **(changes or {})})
    keras = _compat.keras3_engine()
    serialized = keras.saving.serialize_keras_object(node)
    serialized.pop("build_config", None)  # built by its first call, at its new width
    serialized["config"] = {**serialized["config"], **(changes or {})}
    classes = {type(layer).__name__: type(layer) for layer in _all_nodes(model)}
    return keras.saving.deserialize_keras_object(serialized, custom_objects=classes)


def node_weights(node: Any) -> list[np.ndarray]:
    """A layer's weights (of either Keras); none for a Keras 3 operation."""
    return node.get_weights() if hasattr(node, "get_weights") else []


def _nodes(model: Any) -> list[Any]:
    """A graph model's layers and operations in the order they run."""
    return list(model.layers) if isinstance(model, _compat.keras3_engine().Sequential) \
        else list(model.operations)


def _all_nodes(model: Any) -> list[Any]:
    found = []
    for node in _nodes(model):
        found.append(node)
        if _compat.keras3_is_graph(node):
            found += _all_nodes(node)
    return found


def _tensors(structure: Any) -> list[Any]:
    """The symbolic tensors in a call's arguments, in order."""
    if isinstance(structure, list | tuple):
        return [t for item in structure for t in _tensors(item)]
    if isinstance(structure, dict):
        return [t for item in structure.values() for t in _tensors(item)]
    return [structure] if _is_tensor(structure) else []


def _mapped(structure: Any, tensors: dict[int, Any]) -> Any:
    if isinstance(structure, list | tuple):
        return type(structure)(_mapped(item, tensors) for item in structure)
    if isinstance(structure, dict):
        return {key: _mapped(item, tensors) for key, item in structure.items()}
    return tensors[id(structure)] if _is_tensor(structure) else structure


def _is_tensor(value: Any) -> bool:
    return isinstance(value, _compat.keras3_engine().KerasTensor)


def _flat(outputs: Any) -> list[Any]:
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]
