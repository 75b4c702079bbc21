"""The only module that imports TensorFlow, tf_keras, Keras 3, tfmot and LiteRT, and the only
one that touches their private APIs.

Everything is imported on first use, so `prune2edge --help` and recipe checks stay instant.
tfmot 0.8 works only with Keras 2: `TF_USE_LEGACY_KERAS=1` must be set before TensorFlow loads.
Each private API below names the version it was checked against; a test exercises each one,
so an upgrade that breaks it fails there first.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .errors import DependencyError

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
def tfmot_sparsity() -> ModuleType:
    """`tensorflow_model_optimization.sparsity.keras`."""
    keras()
    return _require("tensorflow_model_optimization.sparsity.keras",
                    "tensorflow-model-optimization")


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


# --- private APIs -------------------------------------------------------------------------


def tfmot_weight_names(layer: Any) -> list[str] | None:
    """The attribute names of the weights tfmot prunes in `layer`, None when tfmot cannot
    prune it. Layers implementing `PrunableLayer` name their own (see `prunable_weights`).

    Private: `PruneRegistry._LAYERS_WEIGHTS_MAP` and `_weight_names`, checked against
    tensorflow-model-optimization 0.8.1."""
    tfmot_sparsity()
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    registry = prune_registry.PruneRegistry
    if type(layer) in registry._LAYERS_WEIGHTS_MAP:
        return list(registry._weight_names(layer))
    return ["kernel"] if registry.supports(layer) else None


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


def is_prunable_layer(layer: Any) -> bool:
    """Whether `layer` implements tfmot's `PrunableLayer` (it lists its own weights)."""
    return isinstance(layer, tfmot_sparsity().PrunableLayer)


def is_graph_network(model: Any) -> bool:
    """Whether a tf_keras Model is functional (a layer graph) rather than subclassed.

    Private: `Model._is_graph_network`, checked against tf-keras 2.21."""
    return bool(getattr(model, "_is_graph_network", False))


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


def litert_ops(interpreter: Any) -> list[dict[str, Any]]:
    """The ops of an allocated LiteRT interpreter, delegate nodes included.

    Private: `Interpreter._get_ops_details`, checked against ai-edge-litert 2.3."""
    return list(interpreter._get_ops_details())


def converter_switches(converter: Any, *, per_channel: bool | None = None,
                       calibrate_only: bool | None = None) -> None:
    """Set the TFLite converter's switches for per-channel int8 weights and for stopping after
    calibration (the float model with its recorded ranges, see `tflite_quantize`).

    Private: `TFLiteConverterBase._experimental_disable_per_channel` and
    `_experimental_calibrate_only`, checked against TensorFlow 2.21."""
    if per_channel is not None:
        converter._experimental_disable_per_channel = not per_channel
    if calibrate_only is not None:
        converter._experimental_calibrate_only = calibrate_only


def tflite_quantize(calibrated: bytes, *, per_channel: bool, io_type: str,
                    float_nodes: tuple[str, ...] = (), verify: bool = False) -> bytes:
    """Quantize a calibrated .tflite (a converter run with `_experimental_calibrate_only`)
    the way the converter's MLIR quantizer does, keeping the ops whose output tensors are
    named in `float_nodes` in float; `verify` adds the NumericVerify ops the quantization
    debugger reads. The converter has no public switch for either.

    Private: `tensorflow.lite.python.convert.mlir_quantize` (what `TFLiteConverter` and
    `QuantizationDebugger` call), checked against TensorFlow 2.21."""
    from tensorflow.lite.python import convert

    dtype = getattr(tf(), io_type)
    return bytes(convert.mlir_quantize(
        calibrated, disable_per_channel=not per_channel, input_data_type=dtype,
        output_data_type=dtype, enable_numeric_verify=verify,
        denylisted_nodes=list(float_nodes) or None))


def tflite_sparsify(content: bytes) -> bytes:
    """The converter's sparse encoding pass (`Optimize.EXPERIMENTAL_SPARSITY`) on a model.

    Private: `tensorflow.lite.python.convert.mlir_sparsify`, checked against TensorFlow 2.21."""
    from tensorflow.lite.python import convert

    return bytes(convert.mlir_sparsify(content))
