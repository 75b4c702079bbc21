"""Nested models inlined: a functional model whose layers include models (a Sequential stem, a
functional block) becomes one flat functional model with the same layers and weights."""

from __future__ import annotations

import copy
from typing import Any

from .. import _compat
from ..errors import ModelError
from .model import all_layers, custom_objects

MODEL_CLASSES = ("Sequential", "Functional", "Model")


def inline_nested_models(model: Any) -> Any:
    """`model` itself when no layer is a model; otherwise an equivalent flat model."""
    keras = _compat.keras()
    if not any(isinstance(layer, keras.Model) for layer in model.layers):
        return model
    config = copy.deepcopy(model.get_config())
    while True:
        nested = next((e for e in config["layers"] if e["class_name"] in MODEL_CLASSES), None)
        if nested is None:
            break
        config = _inline(config, nested)
    names = [entry["name"] for entry in config["layers"]]
    if len(names) != len(set(names)):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ModelError(f"a nested model's layer {duplicate!r} has the name of another layer",
                         model.name, "give the nested model's layers unique names")
    flat = keras.Model.from_config(config, custom_objects=custom_objects(model))
    originals = {layer.name: layer for layer in all_layers(model)}
    for layer in flat.layers:
        layer.set_weights(originals[layer.name].get_weights())
    return flat


def _inline(config: dict[str, Any], nested: dict[str, Any]) -> dict[str, Any]:
    """`config` with the layer entry `nested` (a model) replaced by its own layers."""
    inner = nested["config"]
    (call,) = nested["inbound_nodes"]
    if nested["class_name"] == "Sequential":
        entries, output = _sequential_entries(inner, call)
    else:
        entries, output = _functional_entries(inner, call)
    layers = []
    for entry in config["layers"]:
        if entry is nested:
            layers += entries
        else:
            entry["inbound_nodes"] = _renamed(entry["inbound_nodes"], nested["name"], output)
            layers.append(entry)
    return {**config, "layers": layers,
            "output_layers": _renamed(config["output_layers"], nested["name"], output)}


def _sequential_entries(inner: dict[str, Any], call: list[Any]) -> tuple[list[dict], str]:
    entries: list[dict] = []
    previous = call
    for layer in inner["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        name = layer["config"]["name"]
        entries.append({**layer, "name": name, "inbound_nodes": [previous]})
        previous = [[name, 0, 0, {}]]
    return entries, entries[-1]["name"]


def _functional_entries(inner: dict[str, Any], call: list[Any]) -> tuple[list[dict], str]:
    sources = {entry[0]: outer for entry, outer in
               zip(inner["input_layers"], _entries(call), strict=True)}
    entries = []
    for layer in inner["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        nodes = layer["inbound_nodes"]
        for name, outer in sources.items():
            nodes = _replaced(nodes, name, outer)
        entries.append({**layer, "inbound_nodes": nodes})
    if len(inner["output_layers"]) != 1:
        raise ModelError("a nested model has several outputs", inner.get("name"),
                         "structural pruning inlines nested models with one output")
    return entries, inner["output_layers"][0][0]


def _entries(call: list[Any]) -> list[list[Any]]:
    return [call] if call and isinstance(call[0], str) else call


def _renamed(value: Any, old: str, new: str) -> Any:
    """References `[old, node, tensor, ...]` to the nested model's output, made to `new`."""
    return _replaced(value, old, [new, 0, 0])


def _replaced(value: Any, old: str, new: list[Any]) -> Any:
    if isinstance(value, list) and len(value) >= 3 and value[0] == old \
            and isinstance(value[1], int):
        return [*new[:3], *value[3:]]
    if isinstance(value, list):
        return [_replaced(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replaced(item, old, new) for key, item in value.items()}
    return value
