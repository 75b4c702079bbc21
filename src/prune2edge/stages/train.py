"""`train`: dense training of a model that arrives untrained (e.g. from a factory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..context import BuildContext
from ..keras_model import clone
from .training import TrainingStage


@dataclass(frozen=True, kw_only=True)
class Train(TrainingStage):
    """Train the dense model; its result is the baseline every ratio is measured against."""

    kind: ClassVar[str] = "train"
    requires: ClassVar[frozenset[str]] = frozenset({"keras"})
    forbids: ClassVar[frozenset[str]] = frozenset({"wrapped", "pruned", "tflite"})

    def run(self, ctx: BuildContext) -> BuildContext:
        # A resumed stage continues training its checkpointed model (optimizer state included).
        model = ctx.model if ctx.resume_logs else clone(ctx.model)
        figures = self.fit(ctx, model, callbacks=[])
        return ctx.evolve(model=model, baseline_model=model).with_outputs(**figures)
