"""A toy distillation stage, written the way a third party adds a stage kind: this one file,
with its own result (a new field), report field, report.md section and budget.

It fine-tunes the model on the labels its teacher (the dense baseline, kept in the build
context's `models` slot and so in every checkpoint) predicts for the training samples, and
reports how often the teacher is right on them; recipes may set `min_teacher_accuracy` in
[budgets], which `prune2edge check` then holds builds to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from prune2edge import (
    BuildContext,
    BuildReport,
    Fact,
    Figure,
    StageRecord,
    Trained,
    TrainingStage,
    register_budget,
    register_stage,
)
from prune2edge.keras.model import clone


@dataclass(frozen=True, kw_only=True)
class Distilled(Trained):
    """A training stage's result, plus the teacher and how often it is right."""

    teacher: str
    teacher_accuracy: float


@register_stage
@dataclass(frozen=True, kw_only=True)
class ToyDistill(TrainingStage):
    """Train on the teacher's predicted classes instead of the dataset's labels."""

    kind: ClassVar[str] = "toy_distill"
    requires = frozenset({Fact.KERAS})
    forbids = frozenset({Fact.WRAPPED, Fact.TFLITE})
    Result = Distilled

    epochs: int = 1

    def run(self, ctx: BuildContext) -> BuildContext:
        teacher = ctx.models.get("teacher", ctx.baseline_model)
        ctx = ctx.with_model("teacher", teacher)
        labels = teacher.predict(ctx.setup.data.x_train, batch_size=256, verbose=0).argmax(1)
        taught = ctx.set_up(data=dataclasses.replace(ctx.setup.data, y_train=labels))
        model = clone(ctx.model) if ctx.model is ctx.baseline_model else ctx.model
        model, trained = self.fit(taught, model, callbacks=[])
        right = float(np.mean(labels == ctx.setup.data.y_train))
        return ctx.evolve(model=model, result=Distilled(
            **dataclasses.asdict(trained), teacher=teacher.name, teacher_accuracy=right))

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        last = records[-1].result
        assert isinstance(last, Distilled)
        return {"distillation": {"teacher": last.teacher,
                                 "teacher_accuracy": last.teacher_accuracy}}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        found = report.extra["distillation"]
        return ["## Distillation", "",
                f"Taught by {found['teacher']}, right on {found['teacher_accuracy']:.2%} of "
                "the training samples.", ""]


register_budget("min_teacher_accuracy", Figure(
    "teacher accuracy", lambda r: (r.extra.get("distillation") or {}).get("teacher_accuracy"),
    "a toy_distill stage", "%"), at_most=False)
