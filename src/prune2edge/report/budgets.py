"""[budgets]: the limits `prune2edge check` holds a build's report to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..cpu import CLASSES
from ..errors import RecipeError, nearest
from ..requirements import TFLM, Requirement


@dataclass(frozen=True, kw_only=True)
class Budgets:
    """Limits `prune2edge check` enforces on a build's report."""

    max_bytes: int | None = None
    max_gzip_bytes: int | None = None
    min_accuracy: float | None = None  # .tflite accuracy on the test split, 0..1
    max_accuracy_drop: float | None = None  # percentage points below the baseline .tflite
    max_latency_ratio: float | None = None  # final p50 / baseline p50
    max_arena_bytes: int | None = None  # TFLM tensor arena (validate runtime = "both")
    max_flash_bytes: int | None = None  # the .tflite a microcontroller stores in flash
    # "point": max_accuracy_drop holds for the measured drop; "confident": for the upper end
    # of its 95% paired interval, i.e. the drop is within budget beyond reasonable doubt
    accuracy_gate: Literal["point", "confident"] = "point"
    # CPU classes (prune2edge.cpu) the latency budget was set on; on another class the latency
    # figures are reported but not gated. Empty: gated on every CPU.
    latency_cpus: tuple[str, ...] = ()

    def requirements(self) -> list[tuple[Requirement, str]]:
        """What measuring these budgets needs installed: the arena needs TFLM itself."""
        if self.max_arena_bytes is None:
            return []
        return [(TFLM.without("or drop max_arena_bytes from [budgets]"),
                 "budgets.max_arena_bytes")]

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_gzip_bytes", "max_accuracy_drop", "max_latency_ratio",
                     "max_arena_bytes", "max_flash_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RecipeError(f"{name} must be >= 0, got {value}", name, "use a limit >= 0")
        for name in self.latency_cpus:
            if name not in CLASSES:
                guess = nearest(name, CLASSES)
                raise RecipeError(f"unknown CPU class {name!r}", "latency_cpus",
                                  (f"did you mean '{guess}'? " if guess else "")
                                  + f"use {', '.join(CLASSES)}")
        if self.min_accuracy is not None and not 0.0 <= self.min_accuracy <= 1.0:
            raise RecipeError(f"min_accuracy must be in [0, 1], got {self.min_accuracy}",
                              "min_accuracy", "write accuracy as a fraction, e.g. 0.97")
