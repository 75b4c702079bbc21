"""`prune`: wrap the chosen layers with tfmot's magnitude pruning and a schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..engine.context import BuildContext, StageRecord, Upcoming
from ..engine.facts import Fact
from ..engine.model_engine import ModelEngine, engine_for, zeros_to_hold
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import RecipeError
from ..keras import reconstruct
from ..keras.model import accuracy
from ..keras.one_shot import prune_once
from ..params import to_mapping
from ..report.format import figures, fmt_pct, table
from ..report.results import Pruned
from ..requirements import TENSORFLOW, TF_KERAS, TFMOT
from ..sparsity.schedules import ConstantSparsity, PolynomialDecay, Schedule
from .calibration import check_calibration
from .selection import LayerChoice, Selection, left_alone

if TYPE_CHECKING:
    from ..report.schema import BuildReport


@register_stage
@dataclass(frozen=True, kw_only=True)
class Prune(Stage):
    """Magnitude pruning with tfmot `prune_low_magnitude` (the masks apply while fine-tuning),
    Optimal Brain Damage (the lowest-saliency weights are zeroed once, before fine-tuning),
    or Optimal Brain Surgeon (zeroed once, layer by layer, and the weights that stay are
    updated to keep each layer's output on calibration samples); tfmot then holds the mask."""

    kind: ClassVar[str] = "prune"
    requires = frozenset({Fact.KERAS})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's wrappers, schedules and callbacks
    provides = frozenset({Fact.WRAPPED, Fact.PRUNED})
    removes = frozenset({Fact.TRAINED})
    forbids = frozenset({Fact.WRAPPED, Fact.FAKE_QUANT, Fact.TFLITE})
    prunes = True
    Result = Pruned

    schedule: Schedule = field(default_factory=PolynomialDecay)
    block_size: tuple[int, int] = (1, 1)
    block_pooling_type: Literal["AVG", "MAX"] = "AVG"
    layers: tuple[str, ...] = ()  # layer names or types to prune; empty: all tfmot can prune
    exclude: tuple[str, ...] = ()  # layer names or types to keep dense
    criterion: Literal["magnitude", "obd", "obs"] = "magnitude"  # which weights go first
    calibration_samples: int = 256  # calibration samples for OBD's and OBS's Hessians
    damping: float = 0.01  # OBS: added to the Hessian's diagonal, as a share of its mean
    sparsity_m_by_n: tuple[int, int] | None = None  # m zeros in every n inputs (tfmot's)

    def __post_init__(self) -> None:
        if min(self.block_size) < 1:
            raise RecipeError(f"block_size must be positive, got {list(self.block_size)}",
                              "block_size", "use [1, 1] for unstructured pruning, e.g. [1, 4]")
        if self.criterion != "magnitude" and not self._one_shot:
            raise RecipeError(
                f"criterion {self.criterion} prunes once, by saliency, before fine-tuning: it "
                "needs a constant_sparsity schedule starting at step 0", "criterion",
                'use schedule = { kind = "constant_sparsity", target_sparsity = 0.8 }; repeat '
                "prune -> finetune -> strip to prune iteratively")
        if self.criterion != "magnitude" and self.block_size != (1, 1):
            raise RecipeError(f"criterion {self.criterion} ranks single weights", "block_size",
                              f"use block_size = [1, 1] with {self.criterion}")
        if self.sparsity_m_by_n is not None:
            self._check_m_by_n(*self.sparsity_m_by_n)
        check_calibration(self.calibration_samples, self.damping)

    def _check_m_by_n(self, m: int, n: int) -> None:
        if not 0 < m < n:
            raise RecipeError(f"sparsity_m_by_n must be [m, n] with 0 < m < n, got [{m}, {n}]",
                              "sparsity_m_by_n", "use e.g. [2, 4]: 2 zeros in every 4 weights")
        if not self._one_shot or self.schedule.target != m / n:
            raise RecipeError(
                f"sparsity_m_by_n [{m}, {n}] sets the masks once, at the first step, to "
                f"{m / n:g} sparsity", "schedule", "use schedule = { kind = "
                f'"constant_sparsity", target_sparsity = {m / n:g} }}')
        if self.block_size != (1, 1):
            raise RecipeError("sparsity_m_by_n and block_size exclude each other", "block_size",
                              "use block_size = [1, 1] with sparsity_m_by_n")

    def made(self) -> frozenset[Fact]:
        """OBD and OBS zero their weights here, at once: the masks are in place without a
        fine-tune, so strip may follow directly (a calibration-only pipeline)."""
        return self.provides | ({Fact.TRAINED} if self.criterion != "magnitude" else set())

    @property
    def _one_shot(self) -> bool:
        """Whether the target sparsity applies from the first step (so it can be applied now,
        ranked by the criterion, and tfmot then holds those zeros while fine-tuning)."""
        return isinstance(self.schedule, ConstantSparsity) and self.schedule.begin_step == 0

    def summary(self) -> str:
        pattern = self.sparsity_m_by_n
        target = f"{self.schedule.target:.0%}" if pattern is None else "{}:{}".format(*pattern)
        return f"{self.schedule.kind} to {target}, {self.criterion}"

    def check_neighbours(self, before: Sequence[Stage], after: Sequence[Stage]) -> None:
        if self.schedule.end_share is not None and _next_finetune(after) is None:
            raise self._no_finetune()

    def preflight(self, ctx: BuildContext) -> None:
        self.choose_layers(ctx.model, ctx.setup.engine)
        self.resolved_schedule(ctx)

    def resolved_schedule(self, ctx: BuildContext) -> tuple[Schedule, int | None]:
        """The schedule with a share end_step resolved, and the fine-tune steps it runs in."""
        finetune = _next_finetune(ctx.control.remaining)
        if finetune is None:
            if self.schedule.end_share is not None:
                raise self._no_finetune()
            return self.schedule, None
        steps = finetune.total_steps(len(ctx.setup.data.x_train))
        return self.schedule.resolve(steps), steps

    def _no_finetune(self) -> RecipeError:
        return RecipeError(
            f"end_step {self.schedule.end_step!r} is a share of the fine-tune steps, but no "
            "finetune stage follows this prune", "schedule.end_step",
            "add a finetune stage after prune, or give end_step as a step count")

    def choose_layers(self, model: Any, engine: ModelEngine | None = None) -> list[LayerChoice]:
        """Which layers with weights get pruned (of a tf_keras model unless `engine` says
        otherwise); raises ModelError for names that match none."""
        engine = engine or engine_for("tf_keras")
        selection = Selection(self.layers, self.exclude, "prune", "prune", "pruned",
                              "select layers tfmot can prune (Dense, Conv*) with `layers`")
        return selection.choose(engine.layers(model), lambda layer: self._cannot(layer, engine))

    def _cannot(self, layer: Any, engine: ModelEngine) -> str | None:
        """Why `layer` cannot be pruned as asked; None when it can."""
        kind = type(layer).__name__
        weights = engine.prunable_weights(layer)
        if weights is None:
            return f"tfmot cannot prune {kind} layers"
        if not weights:
            return f"tfmot prunes no weights of {kind} layers"
        if self.criterion == "obs" and not reconstruct.supports(layer):
            return "criterion obs reconstructs Dense and ungrouped Conv2D layers"
        if self.sparsity_m_by_n is not None:
            n = self.sparsity_m_by_n[1]
            if not reconstruct.supports(layer):
                return "sparsity_m_by_n applies to Dense and ungrouped Conv2D layers"
            if layer.kernel.shape[-2] % n:
                return (f"its {layer.kernel.shape[-2]} input channels do not divide into "
                        f"groups of {n}")
        if self.block_size != (1, 1):
            kernels = _kernels(layer)
            if any(np.ndim(w) != 2 for w in kernels):
                return "block sparsity needs 2-D weights (Dense); use block_size [1, 1]"
            shapes = [w.shape for w in kernels]
            if any(-(-d // b) == 1 for shape in shapes for d, b in zip(shape, self.block_size,
                                                                         strict=True)):
                return (f"a {'x'.join(map(str, self.block_size))} block spans a whole "
                        f"dimension of its {'x'.join(map(str, shapes[0]))} kernel, which "
                        "tfmot's block pruning cannot handle")
        return None

    def run(self, ctx: BuildContext) -> BuildContext:
        engine = ctx.setup.engine
        schedule, steps = self.resolved_schedule(ctx)
        choices = self.choose_layers(ctx.model, engine)
        chosen = {c.name for c in choices if c.chosen}
        model = engine.clone(ctx.model)
        one_shot, rebuilt = self._prune_now(ctx, model, sorted(chosen)) if self._one_shot \
            else (None, None)
        # OBD's zeros are applied now; the masks take exactly them at the first training
        # step (counted from 1) and then hold them: a periodic magnitude re-ranking would
        # otherwise let weights the optimizer moved swap back in.
        held = (ConstantSparsity(target_sparsity=schedule.target, begin_step=1, end_step=1,
                                 frequency=1) if self.criterion != "magnitude" else schedule)
        zeros = zeros_to_hold(engine, model, chosen)
        wrapped, masks = engine.prune(model, chosen, held, {
            "sparsity_m_by_n": self.sparsity_m_by_n, "block_size": self.block_size,
            "block_pooling_type": self.block_pooling_type}, zeros)
        warnings = []
        end = schedule.end_step
        if steps is not None and isinstance(end, int) and end > steps:
            warnings.append(f"the schedule ends at step {end} but fine-tuning runs {steps} "
                            "steps: the final sparsity will not be reached")
        return ctx.evolve(model=wrapped, masks=masks, result=Pruned(
            criterion=self.criterion,
            test_accuracy_before_finetune=one_shot,
            schedule=to_mapping(schedule),
            target_sparsity=schedule.target,
            sparsity_m_by_n=None if self.sparsity_m_by_n is None else list(self.sparsity_m_by_n),
            finetune_steps=steps,
            pruned_layers=[c.name for c in choices if c.chosen],
            dense_layers=[{"layer": c.name, "type": c.type, "reason": c.reason}
                          for c in choices if not c.chosen],
            warnings=warnings, reconstruction=rebuilt, zeros_held=list(zeros) or None))

    def _prune_now(self, ctx: BuildContext, model: Any,
                   layers: list[str]) -> tuple[float, list[dict[str, Any]] | None]:
        """The test accuracy with the chosen weights zeroed at the target sparsity, before any
        fine-tuning (what the criterion alone achieves), and OBS's reconstruction rows. OBD's
        and OBS's zeros stay in `model`; magnitude pruning is left to the masks (tfmot's, or
        the Keras 3 engine's), exactly as tfmot does it, so it is only tried on a copy."""
        engine = ctx.setup.engine
        target = model if self.criterion != "magnitude" else engine.clone(model)
        sample = (ctx.setup.data.representative(self.calibration_samples, ctx.setup.seed)
                  if self.criterion != "magnitude" else None)
        named = {layer.name: layer for layer in engine.layers(target)}
        weights = [w for name in layers for w in engine.prunable_weights(named[name]) or ()]
        in_order = [layer for layer in named.values() if layer.name in layers]
        with ctx.setup.reporter.task(self.criterion, len(layers), "layers") as task:
            rows = prune_once(target, in_order, weights, self.criterion, sample,
                              self.schedule.target, self.damping, self.sparsity_m_by_n, task)
        return accuracy(target, ctx.setup.data.x_test, ctx.setup.data.y_test), rows

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        return {"pruning": [r.result.to_dict() for r in records]}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        parts = []
        for prune in map(Pruned.from_dict, report.pruning):
            one_shot = prune.test_accuracy_before_finetune
            before = ("" if one_shot is None else " Test accuracy right after pruning, before "
                      f"fine-tuning: {fmt_pct(one_shot)}.")
            pattern = prune.sparsity_m_by_n
            target = (f"{prune.target_sparsity:.0%}" if pattern is None
                      else f"{pattern[0]} zeros in every {pattern[1]} weights")
            parts += [f"## Pruning: {prune.schedule['kind']} to {target} "
                      f"({prune.criterion})", "",
                      f"Pruned layers: {', '.join(prune.pruned_layers)}. "
                      f"Schedule: {figures(prune.schedule)}.{before}", ""]
            parts += left_alone("Layers left dense:", prune.dense_layers)
            if prune.zeros_held:
                parts += [f"Zeros of an earlier prune held by a mask while fine-tuning: "
                          f"{', '.join(prune.zeros_held)}.", ""]
            if prune.reconstruction:
                parts += ["Optimal Brain Surgeon reconstruction: each layer's output error on "
                          "the calibration samples (share of its output energy), against "
                          "the same sparsity by magnitude with no update:", "",
                          table(["layer", "zeros", "output error", "by magnitude"],
                                [[r["layer"], fmt_pct(r["sparsity"]),
                                  f"{r['output_error']:.4f}",
                                  f"{r['magnitude_output_error']:.4f}"]
                                 for r in prune.reconstruction]), ""]
            parts += [f"Warning: {w}" for w in prune.warnings]
        return parts

def _next_finetune(after: Sequence[Upcoming]) -> Any:
    """The training stage this prune's schedule runs in (before the wrappers change), if any."""
    for stage in after:
        if stage.applies_masks:
            return stage
        if Fact.WRAPPED in stage.provides | stage.removes:
            return None
    return None


def _kernels(layer: Any) -> list[Any]:
    return [w for w in layer.get_weights() if np.ndim(w) >= 2]
