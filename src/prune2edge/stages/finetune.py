"""`finetune`: train the (pruning-wrapped) model so the masks are applied and accuracy recovers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import RecipeError
from ..requirements import TENSORBOARD, TENSORFLOW, TF_KERAS, TFMOT, Requirement
from .distilling import DistillingStage


@register_stage
@dataclass(frozen=True, kw_only=True)
class FineTune(DistillingStage):
    """Fine-tune with tfmot's `UpdatePruningStep` (and optional `PruningSummaries` logs);
    with `teacher = "baseline"`, distil from the dense model (`keras.distill`)."""

    kind: ClassVar[str] = "finetune"
    requires = frozenset({Fact.KERAS})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's wrappers, schedules and callbacks
    provides = frozenset({Fact.TRAINED})
    forbids = frozenset({Fact.FAKE_QUANT, Fact.TFLITE})
    applies_masks = True

    epochs: int = 2
    pruning_summaries: bool = False  # TensorBoard logs of sparsity in OUT/tensorboard/

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
        model, trained = self.fit(ctx, model, callbacks, self.teacher_of(ctx))
        return ctx.evolve(model=model, result=trained)


def _wrapped_after(stages: Sequence[Stage]) -> bool:
    """Whether the model has pruning wrappers after these stages."""
    last = next((s for s in reversed(stages) if Fact.WRAPPED in s.provides | s.removes), None)
    return last is not None and Fact.WRAPPED in last.provides and last.prunes
