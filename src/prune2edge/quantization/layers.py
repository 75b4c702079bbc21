"""Per-layer int8 error: TensorFlow's quantization debugger runs each quantized op next to its
float twin on the same input and compares their outputs, so an op's figure is its own error,
not what it inherited. The figure is per channel, so a tensor whose scale one outlier channel
sets, leaving the others a step or two of resolution, stands out. Ops whose int8 output range
the op itself fixes (softmax, logistic, tanh) are judged on the whole tensor instead: their
small values are meant to round away."""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import _compat
from ..tflite.runner import dequantize
from .calibrated import Calibrated

FIXED_RANGE = frozenset({"SOFTMAX", "LOGISTIC", "TANH", "LOG_SOFTMAX"})


@dataclass(frozen=True)
class LayerError:
    """One quantized op's output compared with float."""

    node: str  # the op's output tensor, as the converter names it
    op: str  # e.g. "CONV_2D"
    layers: tuple[str, ...]  # the Keras layers fused into the op
    error: float | None  # RMS error / RMS float value per channel, averaged: 0 exact, 1 lost
    steps: float | None  # RMS error in quantization steps (ideal rounding: 0.29)

    @property
    def label(self) -> str:
        """The Keras layers and the op, e.g. "conv, relu (CONV_2D)"."""
        return f"{', '.join(self.layers) or self.node} ({self.op})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "layers": list(self.layers)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LayerError:
        return cls(**{**doc, "layers": tuple(doc["layers"])})


def layer_errors(calibrated: Calibrated, samples: np.ndarray, layer_names: Iterable[str],
                 output_layers: Iterable[str], float_nodes: tuple[str, ...] = (),
                 suffixed: bool = False) -> list[LayerError]:
    """The error of every quantized op over `samples` (one invocation each), worst first.
    `layer_names` are the Keras model's layers, `output_layers` those producing its outputs
    (whose tensors the converter renames after the signature). `suffixed`: the graph was
    traced from Keras 3, whose layers' name scopes TensorFlow made unique once ("dense" ->
    "dense_1", "dense_1" -> "dense_1_2")."""
    tf = _compat.tf()
    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"error": channel_error, "tensor_error": tensor_error,
                                      "steps": error_steps})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        debugger = tf.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=calibrated.instrumented(float_nodes),
            debug_dataset=lambda: ([sample[None].astype(np.float32)] for sample in samples),
            debug_options=options)
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    names, outputs = set(layer_names), tuple(output_layers)
    rows = [LayerError(row["tensor_name"], row["op_name"],
                       _layers_of(row["tensor_name"], names, suffixed) or outputs,
                       _figure(row["tensor_error" if row["op_name"] in FIXED_RANGE
                                   else "error"]), _figure(row["steps"]))
            for row in csv.DictReader(io.StringIO(dump.getvalue()))]
    return sorted(rows, key=lambda e: (-e.error if e.error is not None else 1.0, e.node))


def channel_error(float_out: np.ndarray, quant_out: np.ndarray, scale: float,
                  zero_point: int) -> float:
    """RMS error over RMS float value, per channel (the last axis), averaged over the channels
    that carry a signal; NaN when none does."""
    error = dequantize(quant_out, quant_out.dtype, scale, zero_point) - float_out
    channels = float_out.shape[-1] if float_out.ndim else 1
    signal = np.sqrt(np.mean(np.square(float_out.reshape(-1, channels)), axis=0))
    noise = np.sqrt(np.mean(np.square(error.reshape(-1, channels)), axis=0))
    live = signal > 0
    return float(np.mean(noise[live] / signal[live])) if live.any() else math.nan


def tensor_error(float_out: np.ndarray, quant_out: np.ndarray, scale: float,
                 zero_point: int) -> float:
    """RMS error over RMS float value of the whole tensor."""
    error = dequantize(quant_out, quant_out.dtype, scale, zero_point) - float_out
    signal = np.sqrt(np.mean(np.square(float_out)))
    return float(np.sqrt(np.mean(np.square(error))) / signal) if signal > 0 else math.nan


def error_steps(float_out: np.ndarray, quant_out: np.ndarray, scale: float,
                zero_point: int) -> float:
    """RMS error in units of the tensor's quantization step."""
    error = dequantize(quant_out, quant_out.dtype, scale, zero_point) - float_out
    return float(np.sqrt(np.mean(np.square(error))) / scale) if scale else math.nan


def _layers_of(node: str, names: set[str], suffixed: bool = False) -> tuple[str, ...]:
    """The Keras layers named in a fused tensor name, in order of first mention."""
    found: dict[str, None] = {}
    for part in node.split(";"):
        for component in part.split("/"):
            name = component.rpartition("_")[0] if suffixed else component
            if name in names:
                found[name] = None
    return tuple(found)


def _figure(text: str) -> float | None:
    value = float(text) if text else math.nan
    return None if math.isnan(value) else round(value, 6)
