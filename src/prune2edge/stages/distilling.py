"""What the training stages that may distil from the baseline share: the teacher's
parameters, checked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..engine.context import BuildContext
from ..errors import RecipeError
from ..keras import distill
from .training import TrainingStage


@dataclass(frozen=True, kw_only=True)
class DistillingStage(TrainingStage):
    """A training stage that, with `teacher = "baseline"`, distils from the dense model
    (`keras.distill`)."""

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

    def teacher_of(self, ctx: BuildContext) -> distill.Teacher | None:
        """The baseline as teacher, when this stage distils."""
        if self.teacher != "baseline":
            return None
        return distill.Teacher(ctx.baseline_model, self.temperature, self.distill_weight)
