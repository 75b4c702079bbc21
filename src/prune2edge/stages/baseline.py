"""`baseline`: for recipes that train from scratch while pruning (tfmot's classic example),
a dense copy trained the same way, so the report compares against a trained model rather
than the untrained input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from .training import TrainingStage


@register_stage
@dataclass(frozen=True, kw_only=True)
class Baseline(TrainingStage):
    """Train a dense copy of the model as the baseline every ratio is measured against; the
    model itself goes on untrained, to be pruned while it trains."""

    kind: ClassVar[str] = "baseline"
    requires = frozenset({Fact.KERAS})
    forbids = frozenset({Fact.WRAPPED, Fact.PRUNED, Fact.FAKE_QUANT, Fact.TFLITE})
    sets_baseline = "a dense copy of the input model trained by the `baseline` stage"

    def run(self, ctx: BuildContext) -> BuildContext:
        # No per-epoch checkpoints: they hold the model being built, which this stage leaves
        # alone; an interrupted build resumes at the start of this stage.
        dense, trained = self.fit(ctx.controlled(resume_logs=(), on_epoch_end=None),
                                  ctx.setup.engine.clone(ctx.model), callbacks=[])
        return ctx.evolve(baseline_model=dense, result=trained)
