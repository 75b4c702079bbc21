"""Keras models in and out: sources (factories, files), copies, and facts about a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _compat, keras3
from .errors import ModelError, first_line
from .sources import call_function, is_callable_source, resolve_path

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """The recipe's [model] table."""

    source: str  # module:function or file.py:function factory, .keras/.h5 file, SavedModel dir
    safe_mode: bool = True  # refuse files whose loading would run code stored in them


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    source: str
    kind: str  # "factory", "keras", "keras3", "h5", "savedmodel", "object"
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind,
                "parameters": int(self.model.count_params()), **self.details}


def check_source(source: str, base_dir: Path) -> None:
    """Cheap checks that need no TensorFlow, run while the recipe is read."""
    if is_callable_source(source):
        return
    path = resolve_path(source, base_dir)
    if not path.exists():
        raise ModelError("model file not found", str(path),
                         "give a .keras/.h5 file or SavedModel directory (relative to the "
                         "recipe) or a module:function factory")
    if path.is_file() and path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"unsupported model file type {path.suffix!r}", str(path),
                         f"use one of {', '.join(MODEL_SUFFIXES)} or a SavedModel directory")
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        raise ModelError("the directory is not a SavedModel (no saved_model.pb)", str(path),
                         "give a SavedModel directory, or a .keras/.h5 file")


def load(source: str, base_dir: Path, safe_mode: bool = True) -> LoadedModel:
    """Load a model from a factory, a Keras 2 or 3 file, an .h5 file or a SavedModel.

    `safe_mode` refuses files that would run code stored in them (Lambda layers); factories
    run the user's code because the user named them, and the result says so.
    """
    check_source(source, base_dir)
    keras = _compat.keras()
    details: dict[str, Any] = {"safe_mode": safe_mode, "executes_user_code": not safe_mode}
    if is_callable_source(source):
        model = call_function(source, base_dir, ModelError)
        kind = "factory"
        details["executes_user_code"] = True
    else:
        path = resolve_path(source, base_dir)
        kind = _file_kind(path)
        if kind == "keras3":
            model, details["translation"] = keras3.load_and_translate(path, safe_mode)
        else:
            if kind == "h5" and safe_mode:
                _refuse_lambda_layers(path)
            model = _load_file(keras, path, kind, safe_mode)
    if not isinstance(model, keras.Model):
        raise ModelError(f"the source gave a {type(model).__name__}, not a tf_keras Model",
                         source, "return a tf_keras Sequential or functional model")
    if not isinstance(model, keras.Sequential) and not model._is_graph_network:
        raise ModelError(
            f"{type(model).__name__} is a subclassed model", source,
            "its call() is Python code that tfmot cannot see or rebuild: build it with the "
            "functional API or Sequential (the same layers and weights work)")
    return LoadedModel(model, source, kind, details)


def _file_kind(path: Path) -> str:
    if path.is_dir():
        return "savedmodel"
    if path.suffix == ".keras":
        return "keras3" if keras3.saved_by_keras3(path) else "keras"
    return "h5"


def _load_file(keras: Any, path: Path, kind: str, safe_mode: bool) -> Any:
    options = {"safe_mode": safe_mode} if kind == "keras" else {}
    try:
        return keras.models.load_model(path, compile=False, **options)
    except Exception as exc:  # Keras raises many types for unreadable files
        message = first_line(exc)
        fix = ("set [model] safe_mode = false only if you trust this file (it runs its code)"
               if "safe_mode" in message else "save it with tf_keras model.save(...) as .keras "
               "or .h5, or as a SavedModel")
        raise ModelError(f"cannot load the model ({message})", str(path), fix) from None


def _refuse_lambda_layers(path: Path) -> None:
    """H5 files store Lambda layers as Python bytecode that loading would run."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            config = h5.attrs.get("model_config")
    except OSError as exc:
        raise ModelError(f"cannot read the model ({first_line(exc)})", str(path),
                         "the file may be truncated or not an HDF5 Keras model") from None
    if config is None:
        raise ModelError("the .h5 file holds no model (weights only?)", str(path),
                         "save the whole model with model.save(path)")
    text = config.decode() if isinstance(config, bytes) else str(config)
    if '"class_name": "Lambda"' in text:
        raise ModelError("the model has Lambda layers, whose code loading would run", str(path),
                         "set [model] safe_mode = false only if you trust this file")


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
