"""`qat`: quantization-aware training with tfmot, keeping what earlier stages made (PQAT, CQAT,
PCQAT); the int8 conversion then uses the ranges it learnt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..engine.context import FLOAT, BuildContext, StageRecord
from ..engine.distribute import refuse_strategy
from ..engine.facts import Fact
from ..engine.model_engine import ModelEngine
from ..engine.registry import register_stage
from ..keras import qat
from ..keras.converter import QuantizationPlan
from ..report.format import table
from ..report.results import QuantizationAware
from ..requirements import TENSORFLOW, TF_KERAS, TFMOT
from .distilling import DistillingStage

if TYPE_CHECKING:
    from ..report.schema import BuildReport


@register_stage
@dataclass(frozen=True, kw_only=True)
class Qat(DistillingStage):
    """Quantization-aware training (tfmot's 8-bit scheme; the keras3 engine fakes the same in
    the model's own layer calls): the model trains with int8 faked in its forward pass, so it
    learns weights and activation ranges int8 suits; `convert` then writes an all-int8 file
    from those ranges, no calibration. An earlier prune's zeros and clustering's values are
    kept (tfmot's collaborative schemes: PQAT, CQAT, PCQAT), and the report checks them in
    the .tflite. A layer the engine cannot fake-quantize stops the build unless `allow_float`
    leaves it in float. Quantization-aware models do not read back what they save, so the
    stage writes no checkpoint: a resumed build runs it again from its start."""

    kind: ClassVar[str] = "qat"
    requires = frozenset({Fact.KERAS})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's quantization wrappers and schemes
    provides = frozenset({Fact.QUANTIZATION, Fact.FAKE_QUANT})
    forbids = frozenset({Fact.WRAPPED, Fact.QUANTIZATION, Fact.TFLITE})
    Result = QuantizationAware

    epochs: int = 2
    learning_rate: float | None = 0.0001  # a fine-tune's rate: the weights are trained
    io_type: Literal["float32", "int8", "uint8"] = "float32"  # the .tflite's input and output
    allow_float: bool = False  # leave the layers the engine cannot fake-quantize in float
    per_channel: bool = True  # convolution kernels: a scale per output channel (false: one)

    def summary(self) -> str:
        return super().summary() + (f", {self.io_type} in/out" if self.io_type != "float32"
                                    else "") + ("" if self.per_channel else ", per tensor")

    def preflight(self, ctx: BuildContext) -> None:
        refuse_strategy(ctx.setup.strategy, "qat", "quantization-aware training")
        self._quantized(ctx.setup.engine, ctx.setup.engine.clone(ctx.model))  # refused layers

    def _quantized(self, engine: ModelEngine, model: Any) -> tuple[Any, dict[str, str],
                                                                   list[Any], bool, bool]:
        """A quantization-aware copy of `model`, the layers left in float, the callbacks
        keeping zeros and clusters, and whether zeros and clusters are kept; Unquantizable
        (a ModelError) for a layer the engine cannot fake int8 in, unless `allow_float`."""
        keep_zeros, keep_clusters = qat.already(engine.kernels(model))
        wrapped, left_float, callbacks = engine.quantize_aware(
            model, keep_zeros, keep_clusters, self.allow_float, self.per_channel)
        return wrapped, left_float, callbacks, keep_zeros, keep_clusters

    def run(self, ctx: BuildContext) -> BuildContext:
        engine = ctx.setup.engine
        original = engine.clone(ctx.model)  # the baseline stays as it is
        model, left_float, callbacks, keep_zeros, keep_clusters = self._quantized(engine,
                                                                                  original)
        # no checkpoint holds it (`reads_back`): a resumed build runs this stage again
        model, trained = self.fit(ctx, model, callbacks, self.teacher_of(ctx))
        twin = engine.float_twin(model, original, keep_zeros)
        before, after = engine.kernels(original), engine.kernels(twin)
        layers = [{"layer": name, "values": int(kernel.size),
                   "zeros_before": int(np.count_nonzero(kernel == 0)),
                   "zeros_after": int(np.count_nonzero(after[name] == 0)),
                   "distinct_before": len(np.unique(kernel)),
                   "distinct_after": len(np.unique(after[name]))}
                  for name, kernel in before.items()]
        plan = QuantizationPlan("int8", self.io_type, per_channel=self.per_channel,
                                trained=True)
        return ctx.evolve(model=model, quantization=plan, models={**ctx.models, FLOAT: twin},
                          result=QuantizationAware(
                              **trained.to_dict(), scheme=qat.scheme_name(keep_zeros,
                                                                          keep_clusters),
                              left_float=[{"layer": k, "reason": v}
                                          for k, v in left_float.items()],
                              layers=layers))

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        return {"qat": records[-1].result.to_dict()}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        done = QuantizationAware.from_dict(report.extra["qat"])
        parts = [f"## Quantization-aware training ({done.scheme})", "",
                 f"{done.epochs} epochs; test accuracy of the model with int8 faked: "
                 f"{done.test_accuracy:.2%}.", ""]
        if done.left_float:
            parts += ["Layers left in float:", "",
                      table(["layer", "reason"], [[f["layer"], f["reason"]]
                                                  for f in done.left_float]), ""]
        in_file = {w["layer"]: w for w in (report.conversion or {}).get("weights", [])}
        rows = []
        for layer in done.layers:
            found = in_file.get(layer["layer"], {})
            rows.append([layer["layer"], f"{layer['zeros_before']:,}", f"{layer['zeros_after']:,}",
                         f"{found['zeros']:,}" if found else "–",
                         layer["distinct_before"], layer["distinct_after"],
                         found.get("channel_distinct", "–")])
        parts += ["Each kernel's zeros and distinct values before and after it (the weights "
                  "the model computes with), and in the .tflite (distinct: the most in one "
                  "channel where int8 scales are per channel):", "",
                  table(["layer", "zeros before", "after", ".tflite", "distinct before",
                         "after", ".tflite"], rows), ""]
        return parts
