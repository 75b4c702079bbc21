"""The TFLite converter's and LiteRT's private APIs."""

from __future__ import annotations

from typing import Any

from .core import tf


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

