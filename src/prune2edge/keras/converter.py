"""Keras -> .tflite with the TFLite converter: quantization modes and sparse encoding."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from .. import _compat
from ..errors import BuildFailed, first_line


@dataclass(frozen=True)
class QuantizationPlan:
    """What the quantize stage asks the converter to do."""

    mode: str  # "none" | "dynamic" | "float16" | "int8"
    io_type: str = "float32"
    samples: Any = None  # representative inputs for int8 calibration
    per_channel: bool = True  # int8 weights: a scale per output channel, or one per tensor

    def describe(self) -> dict[str, Any]:
        count = None if self.samples is None else len(self.samples)
        return {"mode": self.mode, "io_type": self.io_type, "representative_samples": count,
                "per_channel": self.per_channel}


def to_tflite(model: Any, plan: QuantizationPlan | None, sparse: bool) -> bytes:
    """Convert `model`; `plan` None is float32. `sparse` asks for the sparse tensor encoding
    (`Optimize.EXPERIMENTAL_SPARSITY`), which the converter applies to tensors >= 30% zeros."""
    tf = _compat.tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    mode = plan.mode if plan else "none"
    optimizations = [] if mode == "none" else [tf.lite.Optimize.DEFAULT]
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if plan is not None and mode == "int8":
        samples = plan.samples

        def representative() -> Any:
            for sample in samples:
                yield [sample[None].astype("float32")]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # The converter's own switch (TFLiteConverterBase), not yet a public attribute.
        converter._experimental_disable_per_channel = not plan.per_channel
        if plan.io_type != "float32":
            converter.inference_input_type = getattr(tf, plan.io_type)
            converter.inference_output_type = getattr(tf, plan.io_type)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and assorted runtime errors
        raise BuildFailed(f"the TFLite converter failed ({first_line(exc)})",
                          f"quantization {mode}", "see build.log for the converter's output") \
            from exc
