"""`quantize`: choose post-training quantization; the converter applies it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import DataError, RecipeError
from ..keras.converter import Control, QuantizationPlan
from ..keras.model import all_layers
from ..report.results import Quantized
from .validate import Validate


@register_stage
@dataclass(frozen=True, kw_only=True)
class Quantize(Stage):
    """none / dynamic (int8 weights) / float16 weights / int8 (weights and activations,
    calibrated on `samples` training inputs drawn with the recipe's seed). `per_channel =
    false` gives each int8 weight tensor one scale instead of one per output channel: a
    smaller file (each scale is a float the flatbuffer stores, with a zero point), usually at
    some accuracy cost.

    int8 builds report each op's quantization error (on `check_samples` training samples
    other than the calibration ones). `float_layers` keeps the named Keras layers in float;
    `accuracy_control = true` keeps the worst ops in float, one at a time, until int8 agrees
    with Keras on those samples (`min_agreement`, by default the validate stage's) and loses
    at most `max_drop` points of accuracy against it."""

    kind: ClassVar[str] = "quantize"
    provides = frozenset({Fact.QUANTIZATION})
    forbids = frozenset({Fact.QUANTIZATION, Fact.TFLITE})
    Result = Quantized

    mode: Literal["none", "dynamic", "float16", "int8"] = "int8"
    samples: int = 200  # representative inputs for int8 calibration
    io_type: Literal["float32", "int8", "uint8"] = "float32"  # int8 only: the tensors' I/O type
    per_channel: bool = True  # int8: a scale per output channel (false: one per tensor)
    float_layers: tuple[str, ...] = ()  # int8: Keras layers whose ops stay in float
    accuracy_control: bool = False  # int8: keep the worst ops in float until int8 agrees
    min_agreement: float | None = None  # accuracy control's goal (None: validate's)
    max_drop: float | None = None  # accuracy control: points int8 may lose against Keras
    max_float_layers: int = 8  # accuracy control gives up after this many
    check_samples: int = 500  # int8: held-out training samples for errors and control

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise RecipeError(f"samples must be >= 1, got {self.samples}", "samples",
                              "calibrate on e.g. 200 samples")
        if self.io_type != "float32" and self.mode != "int8":
            raise RecipeError(f"io_type {self.io_type!r} needs mode = \"int8\"", "io_type",
                              'use io_type = "float32" or mode = "int8"')
        int8_only = (("per_channel", "per_channel = false", not self.per_channel),
                     ("float_layers", "float_layers", self.float_layers),
                     ("accuracy_control", "accuracy_control = true", self.accuracy_control))
        for name, setting, used in int8_only:
            if used and self.mode != "int8":
                raise RecipeError(f'{setting} needs mode = "int8"', name,
                                  f'leave {name} out or use mode = "int8"')
        for name in ("check_samples", "max_float_layers"):
            if getattr(self, name) < 1:
                raise RecipeError(f"{name} must be >= 1, got {getattr(self, name)}", name,
                                  "use a positive count")
        if self.min_agreement is not None and not 0.0 <= self.min_agreement <= 1.0:
            raise RecipeError(f"min_agreement must be in [0, 1], got {self.min_agreement}",
                              "min_agreement", "use e.g. 0.98")
        if self.max_drop is not None and self.max_drop < 0:
            raise RecipeError(f"max_drop must be >= 0, got {self.max_drop}", "max_drop",
                              "give the points of accuracy int8 may lose, e.g. 0.5")

    def summary(self) -> str:
        return self.mode + ("" if self.per_channel else ", per tensor") + (
            f", {len(self.float_layers)} layer(s) float" if self.float_layers else "") + (
            ", accuracy control" if self.accuracy_control else "")

    def preflight(self, ctx: BuildContext) -> None:
        if self.mode == "int8" and len(ctx.setup.data.x_train) < self.samples:
            raise DataError(f"quantize wants {self.samples} calibration samples but the train "
                            f"split has {len(ctx.setup.data.x_train)}", ctx.setup.data.source,
                            f"set samples <= {len(ctx.setup.data.x_train)}")
        names = [layer.name for layer in all_layers(ctx.model)]
        unknown = [name for name in self.float_layers if name not in names]
        if unknown:
            raise RecipeError(f"float_layers names {unknown[0]!r}, which is not a layer of "
                              "the model", "float_layers",
                              f"name layers of the model: {', '.join(names)}")

    def run(self, ctx: BuildContext) -> BuildContext:
        if self.mode != "int8":
            plan = QuantizationPlan(self.mode, self.io_type)
            return ctx.evolve(quantization=plan, result=Quantized(**plan.describe()))
        control = None
        if self.accuracy_control:
            control = Control(self._min_agreement(ctx), self.max_drop, self.max_float_layers)
        plan = QuantizationPlan(self.mode, self.io_type,
                                ctx.setup.data.representative(self.samples, ctx.setup.seed),
                                self.per_channel, self.float_layers, control,
                                ctx.setup.data.labelled(self.check_samples, ctx.setup.seed + 1))
        return ctx.evolve(quantization=plan, result=Quantized(**plan.describe()))

    def _min_agreement(self, ctx: BuildContext) -> float:
        """The goal given, or the agreement the validate stage will require."""
        if self.min_agreement is not None:
            return self.min_agreement
        validate = next((s for s in ctx.control.remaining if isinstance(s, Validate)), Validate())
        return validate.min_agreement

    replay = run  # the plan is all it leaves, and drawing it again gives the same samples
