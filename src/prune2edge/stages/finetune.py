"""`finetune`: train the (pruning-wrapped) model so the masks are applied and accuracy recovers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import RecipeError
from ..keras import clustering, distill
from ..requirements import TENSORBOARD, TENSORFLOW, TF_KERAS, TFMOT, Requirement
from .training import TrainingStage


@register_stage
@dataclass(frozen=True, kw_only=True)
class FineTune(TrainingStage):
    """Fine-tune with tfmot's `UpdatePruningStep` (and optional `PruningSummaries` logs);
    with `teacher = "baseline"`, distil from the dense model (`keras.distill`)."""

    kind: ClassVar[str] = "finetune"
    requires = frozenset({Fact.KERAS})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's wrappers, schedules and callbacks
    provides = frozenset({Fact.TRAINED})
    forbids = frozenset({Fact.TFLITE})
    applies_masks = True

    epochs: int = 2
    pruning_summaries: bool = False  # TensorBoard logs of sparsity in OUT/tensorboard/
    teacher: Literal["none", "baseline"] = "none"  # baseline: distill from the dense model
    temperature: float = 4.0  # distillation: softmax temperature
    distill_weight: float = 0.5  # distillation: share of the loss from the teacher

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature <= 0:
            raise RecipeError(f"temperature must be > 0, got {self.temperature}",
                              "temperature", "use e.g. 4.0")
        if not 0.0 < self.distill_weight <= 1.0:
            raise RecipeError(f"distill_weight must be in (0, 1], got {self.distill_weight}",
                              "distill_weight", "use e.g. 0.5")

    def summary(self) -> str:
        distilled = (f", distilled from the baseline (T={self.temperature:g})"
                     if self.teacher == "baseline" else "")
        return super().summary() + distilled

    def check_neighbours(self, before: Sequence[Stage], after: Sequence[Stage]) -> None:
        if self.pruning_summaries and not _wrapped_after(before):
            raise RecipeError("pruning_summaries needs the model to be pruning", None,
                              "put this finetune between prune and strip, or drop the option")

    def requirements(self) -> tuple[Requirement, ...]:
        if self.pruning_summaries:
            return (*self.needs, TENSORBOARD.without("or set pruning_summaries = false"))
        return self.needs

    def run(self, ctx: BuildContext) -> BuildContext:
        engine = ctx.setup.engine
        # Never train the baseline in place: every ratio is measured against it.
        model = engine.clone(ctx.model) if ctx.model is ctx.baseline_model else ctx.model
        summaries = ctx.setup.work_dir / "tensorboard" if self.pruning_summaries else None
        callbacks = engine.pruning_callbacks(model, ctx.masks, summaries)
        if clustering.has_clustering_wrappers(model):
            # tfmot's clustering wrappers do not read back their centroids and zero masks:
            # no checkpoint, a resumed build runs this fine-tune again from its start
            ctx = ctx.controlled(on_epoch_end=None)
        teacher = (distill.Teacher(ctx.baseline_model, self.temperature, self.distill_weight)
                   if self.teacher == "baseline" else None)
        model, trained = self.fit(ctx, model, callbacks, teacher)
        return ctx.evolve(model=model, result=trained)


def _wrapped_after(stages: Sequence[Stage]) -> bool:
    """Whether the model has pruning wrappers after these stages."""
    last = next((s for s in reversed(stages) if Fact.WRAPPED in s.provides | s.removes), None)
    return last is not None and Fact.WRAPPED in last.provides and last.prunes
