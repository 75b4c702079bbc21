"""A model calibrated once for int8, then quantized as often as needed: with some ops kept in
float, with the sparse encoding, or instrumented for the quantization debugger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _compat
from ..errors import BuildFailed, first_line
from ..keras.converter import QuantizationPlan, calibrate


@dataclass(frozen=True, eq=False)
class Calibrated:
    """The float .tflite with the ranges `plan`'s calibration samples recorded. A node is an
    op's output tensor, named as the converter names it ("model/conv/Relu;model/conv/...")."""

    content: bytes
    plan: QuantizationPlan

    @classmethod
    def of(cls, model: Any, plan: QuantizationPlan) -> Calibrated:
        return cls(calibrate(model, plan), plan)

    def quantize(self, float_nodes: tuple[str, ...] = (), sparse: bool = False) -> bytes:
        """The int8 model with the ops making `float_nodes` left in float (dequantized
        inputs, float kernels), in the sparse encoding if asked."""
        content = self._quantize(float_nodes, verify=False)
        return _compat.tflite_sparsify(content) if sparse else content

    def instrumented(self, float_nodes: tuple[str, ...] = ()) -> bytes:
        """The same model with NumericVerify ops comparing each quantized op's output with the
        float op's on the same input (what `QuantizationDebugger` reads). Its inputs and
        outputs stay float32 whatever the plan's I/O type: the debugger feeds floats."""
        return self._quantize(float_nodes, verify=True)

    def _quantize(self, float_nodes: tuple[str, ...], verify: bool) -> bytes:
        try:
            return _compat.tflite_quantize(
                self.content, per_channel=self.plan.per_channel,
                io_type="float32" if verify else self.plan.io_type, float_nodes=float_nodes,
                verify=verify)
        except Exception as exc:  # the MLIR quantizer raises assorted runtime errors
            kept = f" with {len(float_nodes)} op(s) in float" if float_nodes else ""
            raise BuildFailed(f"int8 quantization failed{kept} ({first_line(exc)})",
                              "quantization int8", "see build.log for the converter's output") \
                from exc
