"""Keras 3's private APIs that the Keras 3 engine and graph tracing read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .core import keras3_engine, keras3_imported


def keras3_functional_class() -> type:
    """Keras 3's functional model class, which Keras 3 does not export.

    Private: `keras.src.models.functional.Functional`, checked against Keras 3.15."""
    from keras.src.models.functional import Functional

    return Functional


def keras3_is_graph(model: Any) -> bool:
    """Whether a Keras 3 model is a layer graph (functional or Sequential), not subclassed."""
    return isinstance(model, (keras3_engine().Sequential, keras3_functional_class()))


def keras3_sublayers(layer: Any) -> list[Any]:
    """The layers a Keras 3 layer holds directly: a model's layers, a custom layer's blocks.

    Private: `Layer._flatten_layers`, checked against Keras 3.15."""
    return list(layer._flatten_layers(include_self=False, recursive=False))


def keras3_input_shape(model: Any) -> Any:
    """A Keras 3 model's input shape (its batch axis included; a list of shapes for several
    inputs): its `Input`'s, or the shape a subclassed model was built with; None for a
    subclassed model never built.

    Private: `Layer._build_shapes_dict` (where Keras keeps a subclassed model's), checked
    against Keras 3.15."""
    if getattr(model, "inputs", None):
        return model.input_shape
    shapes = [tuple(shape) if all(d is None or isinstance(d, int) for d in shape) else shape
              for shape in (getattr(model, "_build_shapes_dict", None) or {}).values()]
    return shapes[0] if len(shapes) == 1 else (shapes or None)  # a loaded model's are lists


def keras3_seed_states(model: Any) -> list[Any]:
    """The state variable of every `SeedGenerator` in a Keras 3 model (dropout, noise), in
    model order: [seed, counter], which draws the layer's random numbers.

    Public `Layer.non_trainable_variables`; the state's path ends with
    "seed_generator_state" (checked against Keras 3.15)."""
    return [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]


def is_keras3_node(value: Any) -> bool:
    """Whether `value` is a node of a Keras 3 graph: a layer or an operation (never imports)."""
    keras = keras3_imported()
    return keras is not None and isinstance(value, keras.Operation)


def is_keras3_operation(value: Any) -> bool:
    """Whether `value` is a Keras 3 operation without a layer (`x + 3`, `keras.ops.mean`)."""
    keras = keras3_imported()
    return (keras is not None and isinstance(value, keras.Operation)
            and not isinstance(value, keras.layers.Layer))


def keras3_producer(tensor: Any) -> Any:
    """The Keras 3 layer (or operation) that produced a symbolic tensor.

    Private: `KerasTensor._keras_history`, checked against Keras 3.15."""
    return tensor._keras_history[0]


def keras3_call_of(tensor: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(args, kwargs) of the call that produced a symbolic Keras 3 tensor (empty for an
    input's).

    Private: `KerasTensor._keras_history` (operation, node index, tensor index),
    `Operation._inbound_nodes` and `Node.arguments`, checked against Keras 3.15."""
    operation, node_index, _ = tensor._keras_history
    arguments = operation._inbound_nodes[node_index].arguments
    return (tuple(arguments.args), dict(arguments.kwargs)) if arguments else ((), {})


def keras3_calls(layer: Any) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], list[Any]]]:
    """(args, kwargs, output tensors) of each call of a Keras 3 layer in its graph.

    Private: `Operation._inbound_nodes`, `Node.arguments` and `Node.output_tensors`, checked
    against Keras 3.12."""
    for node in layer._inbound_nodes:
        yield tuple(node.arguments.args), dict(node.arguments.kwargs), list(node.output_tensors)



def keras3_consumers(layer: Any) -> list[Any]:
    """The layers and operations that read a Keras 3 layer's outputs in its graphs.

    Private: `Operation._outbound_nodes` and `Node.operation`, checked against Keras 3.15."""
    return [node.operation for node in layer._outbound_nodes]


def keras3_training() -> bool:
    """Whether the Keras 3 layer call under way trains (`training=True`, as `fit` calls), for
    code running inside a layer's call whatever its signature.

    Private: the "current_call_ctx" global and `CallContext.get_value`, checked against
    Keras 3.15."""
    from keras.src.backend.common import global_state

    context = global_state.get_global_attribute("current_call_ctx")
    return bool(context is not None and context.get_value("training"))


def keras3_seed_everything_from(seed: int) -> None:
    """Make Keras 3's global seed generator (what its unseeded random ops and initializers
    draw from) from `seed` now, rather than from Python's `random` at its first use.

    Private: the "global_seed_generator" global (`GLOBAL_SEED_GENERATOR`), checked against
    Keras 3.15."""
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR

    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR,
                                      keras3_engine().random.SeedGenerator(seed))
