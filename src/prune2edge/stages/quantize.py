"""`quantize`: choose post-training quantization; the converter applies it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import DataError, RecipeError
from ..keras.converter import QuantizationPlan


@register_stage
@dataclass(frozen=True, kw_only=True)
class Quantize(Stage):
    """none / dynamic (int8 weights) / float16 weights / int8 (weights and activations,
    calibrated on `samples` training inputs drawn with the recipe's seed). `per_channel =
    false` gives each int8 weight tensor one scale instead of one per output channel: a
    smaller file (each scale is a float the flatbuffer stores, with a zero point), usually at
    some accuracy cost."""

    kind: ClassVar[str] = "quantize"
    provides = frozenset({Fact.QUANTIZATION})
    forbids = frozenset({Fact.QUANTIZATION, Fact.TFLITE})

    mode: Literal["none", "dynamic", "float16", "int8"] = "int8"
    samples: int = 200  # representative inputs for int8 calibration
    io_type: Literal["float32", "int8", "uint8"] = "float32"  # int8 only: the tensors' I/O type
    per_channel: bool = True  # int8: a scale per output channel (false: one per tensor)

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise RecipeError(f"samples must be >= 1, got {self.samples}", "samples",
                              "calibrate on e.g. 200 samples")
        if self.io_type != "float32" and self.mode != "int8":
            raise RecipeError(f"io_type {self.io_type!r} needs mode = \"int8\"", "io_type",
                              'use io_type = "float32" or mode = "int8"')
        if not self.per_channel and self.mode != "int8":
            raise RecipeError("per_channel = false needs mode = \"int8\"", "per_channel",
                              'leave per_channel out or use mode = "int8"')

    def summary(self) -> str:
        return self.mode + ("" if self.per_channel else ", per tensor")

    def preflight(self, ctx: BuildContext) -> None:
        if self.mode == "int8" and len(ctx.data.x_train) < self.samples:
            raise DataError(f"quantize wants {self.samples} calibration samples but the train "
                            f"split has {len(ctx.data.x_train)}", ctx.data.source,
                            f"set samples <= {len(ctx.data.x_train)}")

    def run(self, ctx: BuildContext) -> BuildContext:
        samples = ctx.data.representative(self.samples, ctx.seed) if self.mode == "int8" else None
        plan = QuantizationPlan(self.mode, self.io_type, samples, self.per_channel)
        return ctx.evolve(quantization=plan).with_outputs(**plan.describe())

    replay = run  # the plan is all it leaves, and drawing it again gives the same samples
