"""Facts about a tf_keras model and independent copies of it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import _compat
from ..data.stream import Stream, keras_input, reading
from ..errors import ModelError
from ..metrics import top1

# tfmot's wrapper classes, by what they do
PRUNING, CLUSTERING = ("PruneLowMagnitude",), ("ClusterWeights",)
QUANTIZATION = ("QuantizeWrapper", "QuantizeWrapperV2")


def clone(model: Any) -> Any:
    """An independent copy (architecture and weights) so stages never change their input."""
    keras = _compat.keras()
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def digest(model: Any) -> str:
    """A hash of a model's architecture and weights."""
    found = hashlib.sha256(model.to_json().encode())
    for weights in model.get_weights():
        array = np.ascontiguousarray(weights)
        found.update(f"{array.dtype}{array.shape}".encode())
        found.update(array.data)
    return found.hexdigest()


def input_shape(model: Any) -> tuple[int, ...]:
    """The model's single input shape without the batch axis."""
    shapes = model.input_shape
    if isinstance(shapes, list):
        raise ModelError(f"the model has {len(shapes)} inputs", model.name,
                         "prune2edge handles single-input classifiers")
    if any(d is None for d in shapes[1:]):
        raise ModelError(f"the model's input shape {shapes} is not fully defined", model.name,
                         "give the Input layer a fixed shape, e.g. Input((28, 28, 1))")
    return tuple(int(d) for d in shapes[1:])


def output_units(model: Any) -> int:
    shape = model.output_shape
    if isinstance(shape, list) or len(shape) != 2 or not shape[1] or shape[1] < 2:
        raise ModelError(f"the model's output shape is {shape}", model.name,
                         "prune2edge handles classifiers with one output of >= 2 units")
    return int(shape[1])


def outputs_probabilities(model: Any) -> bool:
    """True when the last layer ends in softmax (so the loss must not expect logits)."""
    last = model.layers[-1]
    last = getattr(last, "layer", last)  # look inside a pruning wrapper
    if type(last).__name__ == "Softmax":
        return True
    return getattr(getattr(last, "activation", None), "__name__", "") == "softmax"


def has_pruning_wrappers(model: Any) -> bool:
    return has_wrappers(model, PRUNING)


def has_wrappers(model: Any, wrappers: tuple[str, ...] = PRUNING + CLUSTERING) -> bool:
    """Whether `model` has tfmot wrappers of these classes (by default pruning's or
    clustering's, which `strip` removes)."""
    return any(type(layer).__name__ in wrappers for layer in model.layers)


def weight_sparsity(model: Any) -> dict[str, Any]:
    """Share of exact zeros in each layer's kernels and over all kernels of the model."""
    layers, zeros, total = [], 0, 0
    for layer in model.layers:
        kernels = [w for w in layer.get_weights() if np.ndim(w) >= 2]
        if not kernels:
            continue
        layer_zeros = sum(int(np.count_nonzero(k == 0)) for k in kernels)
        layer_total = sum(int(k.size) for k in kernels)
        layers.append({"layer": layer.name, "type": type(layer).__name__,
                       "weights": layer_total, "zeros": layer_zeros,
                       "sparsity": layer_zeros / layer_total})
        zeros += layer_zeros
        total += layer_total
    return {"overall": zeros / total if total else 0.0, "weights": total, "zeros": zeros,
            "layers": layers}


def prunable_weights(layer: Any) -> list[Any] | None:
    """The weight variables tfmot would prune in `layer`; None when tfmot cannot prune it.
    A layer implementing tfmot's `PrunableLayer` lists its own."""
    if _compat.is_prunable_layer(layer):
        return list(layer.get_prunable_weights())
    names = _compat.tfmot_weight_names(layer)
    if names is None:
        return None
    return [getattr(layer, name) for name in names if hasattr(layer, name)]


def accuracy(model: Any, x: np.ndarray | Stream, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of `model` on (x, y), predicted in batches."""
    return top1(predict(model, x, batch_size), y)


def predict(model: Any, x: np.ndarray | Stream, batch_size: int = 256) -> np.ndarray:
    """`model`'s outputs on `x` (an array or a stream), predicted in batches."""
    with reading(x):
        return np.asarray(model.predict(keras_input(x, batch_size), batch_size=None
                                        if isinstance(x, Stream) else batch_size, verbose=0))


def all_layers(model: Any) -> Iterator[Any]:
    """Every layer of `model`, the layers of nested models included (after the model)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def custom_objects(model: Any) -> dict[str, type]:
    """The layer classes of `model` (nested models included) that are not tf_keras' own, by
    name, so that a config of the model can be rebuilt (e.g. ConvNeXt's LayerScale)."""
    layers = _compat.keras().layers
    return {type(layer).__name__: type(layer) for layer in all_layers(model)
            if getattr(layers, type(layer).__name__, None) is not type(layer)}
