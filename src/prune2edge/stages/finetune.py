"""`finetune`: train the (pruning-wrapped) model so the masks are applied and accuracy recovers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from .. import _compat
from ..context import BuildContext
from ..errors import RecipeError
from ..keras_model import clone, has_pruning_wrappers
from .base import Stage
from .training import TrainingStage


@dataclass(frozen=True, kw_only=True)
class FineTune(TrainingStage):
    """Fine-tune with tfmot's `UpdatePruningStep` (and optional `PruningSummaries` logs)."""

    kind: ClassVar[str] = "finetune"
    requires: ClassVar[frozenset[str]] = frozenset({"keras"})
    provides: ClassVar[frozenset[str]] = frozenset({"trained"})
    forbids: ClassVar[frozenset[str]] = frozenset({"tflite"})

    epochs: int = 2
    pruning_summaries: bool = False  # TensorBoard logs of sparsity in OUT/tensorboard/

    def check_neighbours(self, before: Sequence[Stage], after: Sequence[Stage]) -> None:
        last = next((s.kind for s in reversed(before) if s.kind in ("prune", "strip")), None)
        if self.pruning_summaries and last != "prune":
            raise RecipeError("pruning_summaries needs the model to be pruning", None,
                              "put this finetune between prune and strip, or drop the option")

    def run(self, ctx: BuildContext) -> BuildContext:
        # Never train the baseline in place: every ratio is measured against it.
        model = clone(ctx.model) if ctx.model is ctx.baseline_model else ctx.model
        callbacks = []
        if has_pruning_wrappers(model):
            sparsity = _compat.tfmot_sparsity()
            callbacks.append(sparsity.UpdatePruningStep())
            if self.pruning_summaries:
                log_dir = ctx.work_dir / "tensorboard"
                callbacks.append(sparsity.PruningSummaries(log_dir=str(log_dir)))
        figures = self.fit(ctx, model, callbacks)
        return ctx.evolve(model=model).with_outputs(**figures)
