"""Keras -> .tflite with the TFLite converter: quantization modes and sparse encoding."""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from .. import _compat
from ..errors import BuildFailed, ModelError, first_line

# The converter's error codes for ops with no builtin kernel.
NOT_BUILTIN = frozenset({"ERROR_NEEDS_CUSTOM_OPS", "ERROR_NEEDS_FLEX_OPS"})
OPS_PAGE = "ai.google.dev/edge/litert/models/ops_compatibility"


@dataclass(frozen=True)
class Control:
    """What accuracy control aims for (see `quantization.control`)."""

    min_agreement: float  # share of samples where int8 and Keras pick the same class
    max_drop: float | None  # percentage points of accuracy int8 may lose against Keras
    max_float_layers: int  # give up after keeping this many more ops in float


@dataclass(frozen=True)
class QuantizationPlan:
    """A quantization mode and, for int8, its calibration samples and which layers stay in
    float: those named in `float_layers`, and those accuracy control (`control`) picks."""

    mode: str  # "none" | "dynamic" | "float16" | "int8"
    io_type: str = "float32"
    samples: Any = None  # representative inputs for int8 calibration
    per_channel: bool = True  # int8 weights: a scale per output channel, or one per tensor
    float_layers: tuple[str, ...] = ()  # Keras layer names whose ops stay float
    control: Control | None = None
    check: tuple[Any, Any] | None = None  # int8: labelled samples, for errors and control
    trained: bool = False  # int8: the ranges quantization-aware training learnt, no samples

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"mode": self.mode, "io_type": self.io_type}
        if self.trained:
            described["ranges"] = "quantization-aware training"
            if not self.per_channel:
                described["per_channel"] = False
        else:
            described["representative_samples"] = (None if self.samples is None
                                                   else len(self.samples))
            described["per_channel"] = self.per_channel
        if self.float_layers:
            described["float_layers"] = list(self.float_layers)
        if self.control is not None:
            described["accuracy_control"] = {
                "min_agreement": self.control.min_agreement, "max_drop": self.control.max_drop,
                "max_float_layers": self.control.max_float_layers}
        return described


def to_tflite(model: Any, plan: QuantizationPlan | None, sparse: bool) -> bytes:
    """Convert `model`; `plan` None is float32. `sparse` asks for the sparse tensor encoding
    (`Optimize.EXPERIMENTAL_SPARSITY`), which the converter applies to tensors >= 30% zeros."""
    return _convert(_converter(model, plan, sparse), plan, model)


def calibrate(model: Any, plan: QuantizationPlan) -> bytes:
    """`model` converted to float with the int8 calibration statistics of `plan`'s samples
    recorded, not yet quantized (see `quantization.Calibrated`)."""
    converter = _converter(model, plan, sparse=False)
    _compat.converter_switches(converter, calibrate_only=True)
    return _convert(converter, plan, model)


def _converter(model: Any, plan: QuantizationPlan | None, sparse: bool) -> Any:
    tf = _compat.tf()
    converter = _from_model(tf, model)
    mode = plan.mode if plan else "none"
    optimizations = [] if mode == "none" else [tf.lite.Optimize.DEFAULT]
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if plan is not None and mode == "int8" and not plan.trained:  # else: fake-quant ranges
        samples = plan.samples

        def representative() -> Any:
            for sample in samples:
                yield [sample[None].astype("float32")]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        _compat.converter_switches(converter, per_channel=plan.per_channel)
    if plan is not None and plan.io_type != "float32":  # int8 only (quantize, qat check it)
        converter.inference_input_type = getattr(tf, plan.io_type)
        converter.inference_output_type = getattr(tf, plan.io_type)
    return converter


def _from_model(tf: Any, model: Any) -> Any:
    """The converter for a tf_keras model, or a Keras 3 one traced at batch 1: its shapes are
    then static, as tf_keras' are (Keras 3 computes a Flatten's shape at run time, and
    XNNPACK refuses a sparse int8 FULLY_CONNECTED behind such a reshape)."""
    if isinstance(model, _compat.keras().Model):
        return tf.lite.TFLiteConverter.from_keras_model(model)
    spec = tf.TensorSpec((1, *_compat.keras3_input_shape(model)[1:]), tf.float32)
    traced = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([traced], model)
    converter.experimental_lower_to_saved_model = False  # the weights frozen into constants
    return converter


def _convert(converter: Any, plan: QuantizationPlan | None, model: Any) -> bytes:
    try:
        # Keras 3 models are exported first, and Keras prints where ("Saved artifact at")
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and assorted runtime errors
        missing = _not_builtin(exc, model)
        if missing:
            raise ModelError(f"TensorFlow Lite has no builtin op for {', '.join(missing)}",
                             None, "prune2edge converts to builtin ops only, which run "
                             "everywhere (TensorFlow's own ops, Flex, need TensorFlow on the "
                             "device and never run on Micro): compute it with ops TensorFlow "
                             f"Lite has ({OPS_PAGE})") from exc
        mode = plan.mode if plan else "none"
        raise BuildFailed(f"the TFLite converter failed ({first_line(exc)})",
                          f"quantization {mode}", "see build.log for the converter's output") \
            from exc


def _not_builtin(exc: Exception, model: Any) -> list[str]:
    """The TensorFlow ops the converter found no builtin for, each with the layer or operation
    of `model` it comes from where its name scope, or its name, says, e.g. "tf.Erfinv (in
    'erfinv')"; none for other failures."""
    names = _node_names(model) - {model.name}

    def named(part: str) -> bool:  # TensorFlow may suffix a scope: "dense" -> "dense_1"
        return part in names or part.rpartition("_")[0] in names

    found: dict[str, None] = {}
    for error in getattr(exc, "errors", ()):  # ConverterError's ConverterErrorData
        if type(error).ErrorCode.Name(error.error_code) not in NOT_BUILTIN:
            continue
        scope = "/".join(call.name for call in error.location.call if call.name).split("/")
        kind = error.operator.name.removeprefix("tf.")
        nodes = [part for part in scope if named(part)] or [
            name for name in sorted(names) if kind.lower() in (name, name.rpartition("_")[0])]
        found[error.operator.name + (f" (in {nodes[-1]!r})" if nodes else "")] = None
    return list(found)


def _node_names(model: Any) -> set[str]:
    """The names of a model's layers and operations, nested ones included."""
    names, stack = set(), [model]
    while stack:
        node = stack.pop()
        names.add(node.name)
        stack += list(getattr(node, "operations", None) or getattr(node, "layers", None) or ())
    return names
