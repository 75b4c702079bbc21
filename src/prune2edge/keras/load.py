"""Keras models in: factories, tf_keras files (.keras, .h5, SavedModel) and Keras 3 files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import _compat
from ..errors import ModelError, first_line
from ..sources import call_function, is_callable_source, resolve_path
from . import from_keras3
from .model import predict

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """The recipe's [model] table."""

    source: str  # module:function or file.py:function factory, .keras/.h5 file, SavedModel dir
    safe_mode: bool = True  # refuse files whose loading would run code stored in them
    # tf_keras: tfmot's wrappers (a Keras 3 graph is translated); keras3: the Keras 3 model as
    # it is; auto (or left out): keras3 for Keras 3 models (a graph is translated for tf_keras
    # when the recipe asks for what only that engine runs), tf_keras for tf_keras models
    engine: Literal["auto", "tf_keras", "keras3"] | None = None


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    source: str
    kind: str  # "factory", "keras", "keras3", "h5", "savedmodel", "object"
    details: dict[str, Any] = field(default_factory=dict)
    engine: str = "tf_keras"  # the engine the build runs in: "tf_keras" or "keras3"

    def describe(self) -> dict[str, Any]:
        engine = {} if self.engine == "tf_keras" else {"engine": self.engine}
        return {"source": self.source, "kind": self.kind,
                "parameters": int(self.model.count_params()), **engine, **self.details}


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


def load(source: str, base_dir: Path, safe_mode: bool = True, engine: str = "auto",
         translate_graphs: bool = False) -> LoadedModel:
    """Load a model from a factory, a Keras 2 or 3 file, an .h5 file or a SavedModel, for
    `engine` (see `ModelSpec.engine` and `loaded`).

    `safe_mode` refuses files that would run code stored in them (Lambda layers); factories
    run the user's code because the user named them, and the result says so.
    """
    check_source(source, base_dir)
    details: dict[str, Any] = {"safe_mode": safe_mode, "executes_user_code": not safe_mode}
    if is_callable_source(source):
        model = call_function(source, base_dir, ModelError)
        kind = "factory"
        details["executes_user_code"] = True
    else:
        path = resolve_path(source, base_dir)
        kind = _file_kind(path)
        if kind == "h5" and safe_mode:
            _refuse_lambda_layers(path)
        model = (from_keras3.load(path, safe_mode) if kind == "keras3"
                 else _load_file(_compat.keras(), path, kind, safe_mode))
    return loaded(model, source, kind, details, engine, translate_graphs)


def loaded(model: Any, source: str, kind: str, details: dict[str, Any] | None = None,
           engine: str = "auto", translate_graphs: bool = False) -> LoadedModel:
    """`model` (a tf_keras or Keras 3 model) ready for `engine`: a Keras 3 graph is translated
    for the tf_keras engine; what the engine cannot take is refused. "auto" builds a Keras 3
    model in the keras3 engine, unless it is a graph and `translate_graphs` (the build asks
    for what only the tf_keras engine runs)."""
    details = dict(details or {})
    if not isinstance(model, _compat.keras().Model) and from_keras3.is_keras3_model(model):
        graph = _compat.keras3_is_graph(model)
        if engine == "keras3" or (engine == "auto" and not (graph and translate_graphs)):
            return LoadedModel(model, source, kind, details, engine="keras3")
        model, details["translation"] = from_keras3.translate_model(model)
    elif engine == "keras3":
        raise ModelError("engine keras3 runs Keras 3 models, and this is a tf_keras model",
                         source, 'leave [model] engine = "auto" (or "tf_keras") for it')
    _check_tf_keras(model, source)
    return LoadedModel(model, source, kind, details)


def _check_tf_keras(model: Any, source: str) -> None:
    keras = _compat.keras()
    if not isinstance(model, keras.Model):
        raise ModelError(f"the source gave a {type(model).__name__}, not a Keras Model",
                         source, "return a tf_keras or Keras 3 model")
    if not isinstance(model, keras.Sequential) and not _compat.is_graph_network(model):
        raise ModelError(
            f"{type(model).__name__} is a subclassed model", source,
            "its call() is Python code that tfmot cannot see or rebuild: build it with the "
            "functional API or Sequential (the same layers and weights work), or with Keras 3 "
            "(whose engine prunes subclassed models)")


def _file_kind(path: Path) -> str:
    if path.is_dir():
        return "savedmodel"
    if path.suffix == ".keras":
        return "keras3" if from_keras3.saved_by_keras3(path) else "keras"
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
        raise ModelError(f"cannot load the model ({message})", str(path), fix) from exc


def _refuse_lambda_layers(path: Path) -> None:
    """H5 files store Lambda layers as Python bytecode that loading would run."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            config = h5.attrs.get("model_config")
    except OSError as exc:
        raise ModelError(f"cannot read the model ({first_line(exc)})", str(path),
                         "the file may be truncated or not an HDF5 Keras model") from exc
    if config is None:
        raise ModelError("the .h5 file holds no model (weights only?)", str(path),
                         "save the whole model with model.save(path)")
    text = config.decode() if isinstance(config, bytes) else str(config)
    if '"class_name": "Lambda"' in text:
        raise ModelError("the model has Lambda layers, whose code loading would run", str(path),
                         "set [model] safe_mode = false only if you trust this file")


def predictor(source: str, base_dir: Path, batch_size: int = 256) -> Callable[[Any], Any]:
    """Predictions of the model `source` names, batched: a reference to compare a .tflite with."""
    model = load(source, base_dir).model
    return lambda x: predict(model, x, batch_size)
