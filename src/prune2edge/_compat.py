"""The only module that imports TensorFlow, tf_keras, tfmot and LiteRT.

Everything is imported on first use, so `prune2edge --help` and recipe checks stay instant.
tfmot 0.8 works only with Keras 2: `TF_USE_LEGACY_KERAS=1` must be set before TensorFlow loads.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any

from .errors import DependencyError

_BUILD_HINT = "install the build extra: pip install 'prune2edge[build]'"


def _configure_environment() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@functools.cache
def tf() -> ModuleType:
    """TensorFlow, configured for tf_keras and quiet logs."""
    _configure_environment()
    try:
        import tensorflow
    except ImportError as exc:
        raise DependencyError(f"TensorFlow is not installed ({exc})", fix=_BUILD_HINT) from None
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


@functools.cache
def keras() -> ModuleType:
    """tf_keras (Keras 2), the Keras that tfmot understands."""
    tf()
    try:
        import tf_keras
    except ImportError as exc:
        raise DependencyError(f"tf-keras is not installed ({exc})", fix=_BUILD_HINT) from None
    return tf_keras


@functools.cache
def tfmot_sparsity() -> ModuleType:
    """`tensorflow_model_optimization.sparsity.keras`."""
    keras()
    try:
        import tensorflow_model_optimization as tfmot
    except ImportError as exc:
        raise DependencyError(
            f"tensorflow-model-optimization is not installed ({exc})", fix=_BUILD_HINT
        ) from None
    return tfmot.sparsity.keras


@functools.cache
def prune_registry() -> Any:
    """tfmot's registry of layers it knows how to prune."""
    tfmot_sparsity()
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    return prune_registry.PruneRegistry


@functools.cache
def litert() -> tuple[Any, Any]:
    """(Interpreter, OpResolverType) from ai-edge-litert, or tflite-runtime as a fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise DependencyError(
                "no TFLite runtime is installed", fix="pip install ai-edge-litert"
            ) from None
    return Interpreter, OpResolverType



@functools.cache
def pyplot() -> ModuleType:
    """matplotlib.pyplot on the headless Agg backend."""
    try:
        import matplotlib
    except ImportError as exc:
        raise DependencyError(f"matplotlib is not installed ({exc})", fix=_BUILD_HINT) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
