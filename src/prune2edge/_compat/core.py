"""TensorFlow, the two Kerases, LiteRT, TFLM and matplotlib, each imported on first use and
configured once (`TF_USE_LEGACY_KERAS=1` before TensorFlow loads: tfmot 0.8 works only with
Keras 2), and tf_keras' private APIs."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from types import ModuleType
from typing import Any

from ..errors import DependencyError

_BUILD_HINT = "install the build extra: pip install 'prune2edge[build]'"


def _configure_environment() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _require(module: str, package: str, fix: str = _BUILD_HINT) -> ModuleType:
    """Import `module`, or raise one clear DependencyError naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(f"{package} is not installed ({exc})", fix=fix) from exc


@functools.cache
def tf() -> ModuleType:
    """TensorFlow, configured for tf_keras and quiet logs."""
    _configure_environment()
    tensorflow = _require("tensorflow", "TensorFlow")
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


@functools.cache
def keras() -> ModuleType:
    """tf_keras (Keras 2), the Keras that tfmot understands."""
    tf()
    return _require("tf_keras", "tf-keras")


@functools.cache
def keras3() -> ModuleType | None:
    """Keras 3 (the `keras` package), or None where it is not installed."""
    tf()
    try:
        return importlib.import_module("keras")
    except ImportError:
        return None


def keras3_imported() -> ModuleType | None:
    """Keras 3 if something in this process imported it already, else None (never imports)."""
    module = sys.modules.get("keras")
    return module if module is not None and hasattr(module, "ops") else None


def keras3_engine() -> ModuleType:
    """Keras 3, which the Keras 3 engine needs (`keras3()` where it is optional)."""
    keras = keras3()
    if keras is None:
        raise DependencyError("Keras 3 is not installed", fix="pip install 'keras>=3.13'")
    return keras


@functools.cache
def litert() -> tuple[Any, Any]:
    """(Interpreter, OpResolverType) from ai-edge-litert, or tflite-runtime as a fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter, OpResolverType
        except ImportError as exc:
            raise DependencyError(
                "no TFLite runtime is installed", fix="pip install ai-edge-litert"
            ) from exc
    return Interpreter, OpResolverType


@functools.cache
def tflm() -> ModuleType:
    """TensorFlow Lite Micro's Python package (its interpreter is `tflm().runtime`)."""
    return _require("tflite_micro", "tflite-micro",
                    "install the micro extra: pip install 'prune2edge[micro]'")


@functools.cache
def flatbuffer_utils() -> ModuleType:
    """LiteRT's reader of the .tflite flatbuffer schema (`ai_edge_litert.tools`)."""
    return _require("ai_edge_litert.tools.flatbuffer_utils", "ai-edge-litert",
                    "pip install ai-edge-litert")


@functools.cache
def pyplot() -> ModuleType:
    """matplotlib.pyplot on the headless Agg backend."""
    _require("matplotlib", "matplotlib").use("Agg")
    return _require("matplotlib.pyplot", "matplotlib")


def random_generators(model: Any) -> list[Any]:
    """The `tf.random.Generator` of every layer of `model` that draws random numbers (dropout,
    noise), in layer order; layers made before `enable_tf_random_generator` have none.

    Private: `BaseRandomLayer._random_generator._generator`, checked against tf-keras 2.21."""
    found = []
    for layer in model.submodules:
        generator = getattr(getattr(layer, "_random_generator", None), "_generator", None)
        if generator is not None:
            found.append(generator)
    return found


def is_graph_network(model: Any) -> bool:
    """Whether a tf_keras Model is functional (a layer graph) rather than subclassed.

    Private: `Model._is_graph_network`, checked against tf-keras 2.21."""
    return bool(getattr(model, "_is_graph_network", False))

