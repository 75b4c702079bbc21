"""A toy distillation stage, written the way a new stage kind is added: this one file.

It fine-tunes the model on the labels its teacher (the dense baseline, kept in the build
context's `models` slot and so in every checkpoint) predicts for the training samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from prune2edge import BuildContext, Fact, register_stage
from prune2edge.keras.model import clone
from prune2edge.stages.training import TrainingStage


@register_stage
@dataclass(frozen=True, kw_only=True)
class ToyDistill(TrainingStage):
    """Train on the teacher's predicted classes instead of the dataset's labels."""

    kind: ClassVar[str] = "toy_distill"
    requires = frozenset({Fact.KERAS})
    forbids = frozenset({Fact.WRAPPED, Fact.TFLITE})

    epochs: int = 1

    def run(self, ctx: BuildContext) -> BuildContext:
        teacher = ctx.models.get("teacher", ctx.baseline_model)
        ctx = ctx.with_model("teacher", teacher)
        labels = teacher.predict(ctx.data.x_train, batch_size=256, verbose=0).argmax(1)
        taught = ctx.evolve(data=dataclasses.replace(ctx.data, y_train=labels))
        model = clone(ctx.model) if ctx.model is ctx.baseline_model else ctx.model
        model, figures = self.fit(taught, model, callbacks=[])
        return ctx.evolve(model=model).with_outputs(**figures, teacher=teacher.name)
