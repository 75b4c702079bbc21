"""`structural`: remove whole Dense units and Conv filters, leaving a smaller dense model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..engine.context import BuildContext, StageRecord
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import ModelError, RecipeError
from ..keras.criteria import criterion
from ..keras.model import accuracy
from ..keras.surgery import (
    Plan,
    check_rebuilt,
    group_scores,
    obs_channel_scores,
    plan,
    rebuild,
    refit,
    refittable,
    select,
    shrink_report,
)
from ..report.format import fmt_pct, table
from ..report.results import Structured
from .calibration import check_calibration

if TYPE_CHECKING:
    from ..report.schema import BuildReport


@register_stage
@dataclass(frozen=True, kw_only=True)
class Structural(Stage):
    """Rank the units/filters of every Dense and Conv layer that can lose some (by L1 or L2
    norm, OBD saliency, or OBS's channel saliency), remove the lowest, and rebuild the model
    with the smaller shapes. Residual groups lose the same channels; the report says which
    layers stayed whole and why. With `reconstruct` (always with OBS) the layers whose inputs
    changed are refit by least squares on calibration samples, so that a fine-tune is
    optional."""

    kind: ClassVar[str] = "structural"
    requires = frozenset({Fact.KERAS})
    forbids = frozenset({Fact.WRAPPED, Fact.FAKE_QUANT, Fact.TFLITE})
    prunes = True
    Result = Structured

    criterion: Literal["l1", "l2", "obd", "obs"] = "l1"
    ratio: float = 0.5  # share of units/filters to remove from each prunable layer
    ratios: dict[str, float] = field(default_factory=dict)  # per-layer shares, by layer name
    allocation: Literal["uniform", "global"] = "uniform"  # global: rank over all layers
    min_width: int = 4  # never fewer units/filters than this
    round_to: int = 1  # keep a multiple of this many channels (e.g. 8 for SIMD-friendly widths)
    exclude: tuple[str, ...] = ()  # layer names or types to keep whole
    calibration_samples: int = 256  # samples for OBD's and OBS's Hessians and the refit
    reconstruct: bool = False  # refit the layers after the removed channels (OBS: always)
    damping: float = 0.01  # OBS and refit: added to the Hessian's diagonal (share of its mean)

    def __post_init__(self) -> None:
        for name, value in (("ratio", self.ratio), *self.ratios.items()):
            if not 0.0 <= value < 1.0:
                raise RecipeError(f"ratio {name!r} must be in [0, 1), got {value}", "ratio",
                                  "give the share of units to remove, e.g. 0.5")
        if self.round_to < 1:
            raise RecipeError(f"round_to must be >= 1, got {self.round_to}", "round_to",
                              "use 1 (no rounding) or e.g. 8")
        if self.min_width < 1:
            raise RecipeError(f"min_width must be >= 1, got {self.min_width}", "min_width",
                              "keep at least one unit per layer")
        check_calibration(self.calibration_samples, self.damping)
        if self.ratios and self.allocation == "global":
            raise RecipeError("per-layer ratios and global allocation exclude each other",
                              "ratios", 'drop ratios, or use allocation = "uniform"')

    def summary(self) -> str:
        refit = ", reconstructed" if self._refits else ""
        shares = sorted(set(self.ratios.values()))
        if not shares:
            return f"{self.criterion}, remove {self.ratio:.0%} ({self.allocation}){refit}"
        named = f"{shares[0]:.0%}" + (f" to {shares[-1]:.0%}" if len(shares) > 1 else "")
        return (f"{self.criterion}, remove {named} of {len(self.ratios)} named group(s), "
                f"{self.ratio:.0%} of the rest ({self.allocation}){refit}")

    @property
    def _refits(self) -> bool:
        return self.reconstruct or self.criterion == "obs"

    def preflight(self, ctx: BuildContext) -> None:
        self.plan_for(ctx.model)

    def plan_for(self, model: Any) -> Plan:
        """Which groups of `model` this stage may prune (checks exclude and ratios)."""
        result = plan(model, self.exclude)
        layers = result.graph.layers  # nested models inlined
        names = {n for layer in layers for n in (layer.name, type(layer).__name__)}
        for option, entries in (("exclude", self.exclude), ("ratios", tuple(self.ratios))):
            unknown = [e for e in entries if e not in names]
            if unknown:
                raise ModelError(f"{option} names {unknown[0]!r}, which is no layer",
                                 f"structural.{option}", "the model's layers are: "
                                 + ", ".join(layer.name for layer in layers))
        if not result.prunable:
            reasons = "; ".join(f"{'+'.join(g.members)}: {', '.join(g.reasons)}"
                                for g in result.groups) or "no Dense or Conv layers"
            raise ModelError("no layer can lose units or filters", f"structural ({reasons})",
                             "structural pruning needs Dense/Conv layers inside the model")
        return result

    def run(self, ctx: BuildContext) -> BuildContext:
        model, result = self.shrink(ctx)
        return ctx.evolve(model=model, result=result)

    def shrink(self, ctx: BuildContext) -> tuple[Any, Structured]:
        """The smaller model, and what this stage reports about it."""
        planned = self.plan_for(ctx.model)
        data = ctx.setup.data
        sample = data.representative(self.calibration_samples, ctx.setup.seed)
        scores = self._scores(ctx, planned, sample)
        keep = select(planned, scores, {**self.ratios, "*": self.ratio}, self.min_width,
                      self.allocation, self.round_to)
        model = rebuild(planned.graph, keep)
        check_rebuilt(model, data.x_test[:1])
        refits, removed = None, None
        if self._refits:
            removed = accuracy(model, data.x_test, data.y_test)
            with ctx.setup.reporter.task("least-squares refit", refittable(model),
                                         "layers") as task:
                refits = refit(planned.graph, keep, model, sample, self.damping, task)
        return model, Structured(
            criterion=self.criterion, allocation=self.allocation,
            test_accuracy_before_finetune=accuracy(model, data.x_test, data.y_test),
            test_accuracy_before_reconstruction=removed, reconstruction=refits,
            **shrink_report(planned, model, keep))

    def _scores(self, ctx: BuildContext, planned: Plan, sample: Any) -> dict[str, Any]:
        """A score per channel of every prunable group, by the criterion."""
        if self.criterion != "obs":
            producers = [m for g in planned.prunable for m in g.members]
            return group_scores(planned, criterion(self.criterion).channel_scores(
                planned.graph.model, producers, sample))
        share = max([self.ratio, *self.ratios.values()]) if self.allocation == "uniform" else 1
        with ctx.setup.reporter.task("OBS channel saliency", len(planned.prunable),
                                     "groups") as task:
            return obs_channel_scores(planned, sample, self.damping, share, task)

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        return {"structural": [r.result.to_dict() for r in records]}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        parts = []
        for step in map(Structured.from_dict, report.structural):
            rows = [[r["layer"], r["type"], f"{r['width_before']} → {r['width_after']}",
                     f"{r['params_before']:,} → {r['params_after']:,}",
                     f"{r['macs_before']:,} → {r['macs_after']:,}"] for r in step.layers]
            parts += [f"## Structural pruning ({step.criterion}, {step.allocation})", "",
                      f"Parameters {step.params_before:,} → {step.params_after:,}, "
                      f"multiply-accumulates per sample {step.macs_before:,} → "
                      f"{step.macs_after:,}; test accuracy right after removal, before "
                      f"fine-tuning: {fmt_pct(step.test_accuracy_before_finetune)}.", "",
                      table(["layer", "type", "width", "parameters", "MACs"], rows), ""]
            if step.reconstruction:
                parts += [f"Least-squares reconstruction on calibration samples: test accuracy "
                          f"{fmt_pct(step.test_accuracy_before_reconstruction)} → "
                          f"{fmt_pct(step.test_accuracy_before_finetune)}; each refit "
                          "layer's output error (share of the original output's energy):", "",
                          table(["layer", "before refit", "after refit"],
                                [[r["layer"], f"{r['output_error_before']:.4f}",
                                  f"{r['output_error_after']:.4f}"]
                                 for r in step.reconstruction]), ""]
            parts += [f"Kept whole: {', '.join(s['layers'])}: {s['reason']}."
                      for s in step.skipped]
            parts += [f"Pruned together (residual group): {', '.join(g)}."
                      for g in step.groups]
            parts.append("")
        return parts
