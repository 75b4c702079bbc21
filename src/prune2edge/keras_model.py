"""Keras models in and out: sources (factories, files), copies, and facts about a model."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _compat
from .errors import ModelError, first_line

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    source: str
    kind: str  # "factory", "file", "object"


def is_factory(source: str) -> bool:
    return bool(_FACTORY.match(source))


def check_source(source: str, base_dir: Path) -> None:
    """Cheap checks that need no TensorFlow, run while the recipe is read."""
    if is_factory(source):
        return
    path = _resolve(source, base_dir)
    if not path.exists():
        raise ModelError("model file not found", str(path),
                         "give a .keras/.h5 file or SavedModel directory (relative to the "
                         "recipe) or a module:function factory")
    if path.is_file() and path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"unsupported model file type {path.suffix!r}", str(path),
                         f"use one of {', '.join(MODEL_SUFFIXES)} or a SavedModel directory")


def _resolve(source: str, base_dir: Path) -> Path:
    path = Path(source).expanduser()
    return path if path.is_absolute() else base_dir / path


def load(source: str, base_dir: Path) -> LoadedModel:
    """Load a model from a `module:function` factory or a Keras file/SavedModel."""
    check_source(source, base_dir)
    if is_factory(source):
        model = _call_factory(source)
        kind = "factory"
    else:
        path = _resolve(source, base_dir)
        try:
            model = _compat.keras().models.load_model(path, compile=False)
        except Exception as exc:  # Keras raises many types for unreadable files
            raise ModelError(f"cannot load the model ({first_line(exc)})", str(path),
                             "save it with tf_keras model.save(...) as .keras or .h5") from None
        kind = "file"
    if not isinstance(model, _compat.keras().Model):
        raise ModelError(f"the source gave a {type(model).__name__}, not a tf_keras Model",
                         source, "return a tf_keras Sequential or functional model")
    return LoadedModel(model, source, kind)


def _call_factory(source: str) -> Any:
    module_name, func_name = source.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"cannot import module {module_name!r} ({exc})", source,
                         "check the module name and that it is importable (PYTHONPATH)") from None
    factory = getattr(module, func_name, None)
    if not callable(factory):
        raise ModelError(f"module {module_name!r} has no function {func_name!r}", source,
                         "name a function that returns a Keras model")
    return factory()



def clone(model: Any) -> Any:
    """An independent copy (architecture and weights) so stages never change their input."""
    keras = _compat.keras()
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


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
    return any(type(layer).__name__ == "PruneLowMagnitude" for layer in model.layers)


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
