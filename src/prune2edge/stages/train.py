"""`train`: dense training of a model that arrives untrained (e.g. from a factory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from .training import TrainingStage


@register_stage
@dataclass(frozen=True, kw_only=True)
class Train(TrainingStage):
    """Train the dense model; its result is the baseline every ratio is measured against."""

    kind: ClassVar[str] = "train"
    requires = frozenset({Fact.KERAS})
    forbids = frozenset({Fact.WRAPPED, Fact.PRUNED, Fact.FAKE_QUANT, Fact.TFLITE})
    sets_baseline = "the input model (after `train`)"

    def run(self, ctx: BuildContext) -> BuildContext:
        # A resumed stage continues training its checkpointed model (optimizer state included).
        model = ctx.model if ctx.control.resume_logs else ctx.setup.engine.clone(ctx.model)
        model, trained = self.fit(ctx, model, callbacks=[])
        return ctx.evolve(model=model, baseline_model=model, result=trained)
