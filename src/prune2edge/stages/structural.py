"""`structural`: remove whole Dense units and Conv filters, leaving a smaller dense model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from ..context import BuildContext
from ..errors import ModelError, RecipeError
from ..saliency import producer_scores
from ..surgery import Plan, check_rebuilt, plan, rebuild, select, shrink_report
from .base import Stage


@dataclass(frozen=True, kw_only=True)
class Structural(Stage):
    """Rank the units/filters of every Dense and Conv layer that can lose some (by L1 or L2
    norm, or by OBD saliency), remove the lowest, and rebuild the model with the smaller
    shapes. Residual groups lose the same channels; the report says which layers stayed
    whole and why. Follow it with a finetune stage."""

    kind: ClassVar[str] = "structural"
    requires: ClassVar[frozenset[str]] = frozenset({"keras"})
    forbids: ClassVar[frozenset[str]] = frozenset({"wrapped", "tflite"})

    criterion: Literal["l1", "l2", "obd"] = "l1"
    ratio: float = 0.5  # share of units/filters to remove from each prunable layer
    ratios: dict[str, float] = field(default_factory=dict)  # per-layer shares, by layer name
    allocation: Literal["uniform", "global"] = "uniform"  # global: rank over all layers
    min_width: int = 4  # never fewer units/filters than this
    exclude: tuple[str, ...] = ()  # layer names or types to keep whole
    hessian_samples: int = 256  # training samples for OBD's Hessian diagonal

    def __post_init__(self) -> None:
        for name, value in (("ratio", self.ratio), *self.ratios.items()):
            if not 0.0 <= value < 1.0:
                raise RecipeError(f"ratio {name!r} must be in [0, 1), got {value}", "ratio",
                                  "give the share of units to remove, e.g. 0.5")
        if self.min_width < 1:
            raise RecipeError(f"min_width must be >= 1, got {self.min_width}", "min_width",
                              "keep at least one unit per layer")
        if self.hessian_samples < 1:
            raise RecipeError(f"hessian_samples must be >= 1, got {self.hessian_samples}",
                              "hessian_samples", "use e.g. 256")
        if self.ratios and self.allocation == "global":
            raise RecipeError("per-layer ratios and global allocation exclude each other",
                              "ratios", 'drop ratios, or use allocation = "uniform"')

    def summary(self) -> str:
        return f"{self.criterion}, remove {self.ratio:.0%} ({self.allocation})"

    def preflight(self, ctx: BuildContext) -> None:
        self._plan(ctx.model)

    def _plan(self, model: Any) -> Plan:
        names = {n for layer in model.layers for n in (layer.name, type(layer).__name__)}
        for option, entries in (("exclude", self.exclude), ("ratios", tuple(self.ratios))):
            unknown = [e for e in entries if e not in names]
            if unknown:
                raise ModelError(f"{option} names {unknown[0]!r}, which is no layer",
                                 f"structural.{option}", "the model's layers are: "
                                 + ", ".join(layer.name for layer in model.layers))
        result = plan(model, self.exclude)
        if not result.prunable:
            reasons = "; ".join(f"{'+'.join(g.members)}: {', '.join(g.reasons)}"
                                for g in result.groups) or "no Dense or Conv layers"
            raise ModelError("no layer can lose units or filters", f"structural ({reasons})",
                             "structural pruning needs Dense/Conv layers inside the model")
        return result

    def run(self, ctx: BuildContext) -> BuildContext:
        result = self._plan(ctx.model)
        producers = [m for g in result.prunable for m in g.members]
        sample = (ctx.data.representative(self.hessian_samples, ctx.seed)
                  if self.criterion == "obd" else None)
        scores = producer_scores(ctx.model, producers, self.criterion, sample)
        keep = select(result, scores, {**self.ratios, "*": self.ratio}, self.min_width,
                      self.allocation)
        model = rebuild(result.graph, keep)
        check_rebuilt(model, ctx.data.x_test)
        predictions = model.predict(ctx.data.x_test, batch_size=256, verbose=0)
        accuracy = float(np.mean(predictions.argmax(1) == ctx.data.y_test))
        report = shrink_report(ctx.model, model, result, keep)
        return ctx.evolve(model=model).with_outputs(
            criterion=self.criterion, allocation=self.allocation,
            params_before=report["params_before"], params_after=report["params_after"],
            macs_before=report["macs_before"], macs_after=report["macs_after"],
            test_accuracy_before_finetune=accuracy, channels_removed=report["channels_removed"],
            layers=report["layers"], groups=report["groups"], skipped=report["skipped"])
