"""[budgets]: the limits `prune2edge check` holds a build's report to; the figures they limit,
and the limits stage kinds add (`register_budget`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..boards import board_named, check_reserve
from ..cpu import CLASSES
from ..errors import RecipeError, ReportError, nearest
from ..params import coerce, from_mapping, to_mapping, unknown_key_error
from ..requirements import TFLM, Requirement
from .schema import BuildReport


@dataclass(frozen=True)
class Figure:
    """A number read off a report, and what a recipe needs for the report to have it."""

    label: str
    read: Callable[[BuildReport], float | None]
    needs: str
    unit: str = ""

    def of(self, report: BuildReport) -> float:
        value = self.read(report)
        if value is None:
            raise ReportError(f"the report has no {self.label}", report.name,
                              f"the recipe needs {self.needs}")
        return value

    def show(self, value: float) -> str:
        if self.unit == "B":
            return f"{value:,.0f} B"
        if self.unit == "%":
            return f"{value:.2%}"
        if self.unit == "pt":
            return f"{value:+.2f} pt"
        return f"{value:.3f}x"


@dataclass(frozen=True)
class Limit:
    """A budget a stage kind added: the figure it limits, and which way."""

    figure: Figure
    at_most: bool  # the figure must stay at or below the limit (else at or above it)


LIMITS: dict[str, Limit] = {}  # registered budgets, by their [budgets] key


def register_budget(key: str, figure: Figure, at_most: bool = True) -> None:
    """Let a recipe's [budgets] hold `key`, a limit on `figure` (a figure of the report a
    stage kind adds, e.g. read from `report.extra`); `prune2edge check` holds builds to it."""
    if not key.isidentifier() or key in {f.name for f in dataclasses.fields(Budgets)}:
        raise TypeError(f"budget {key!r} is not a new [budgets] key")
    LIMITS[key] = Limit(figure, at_most)


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
    board: str | None = None  # sets the two above, where unset, from the board's RAM and flash
    reserve_bytes: int | None = None  # board: RAM and flash the application keeps for itself
    # "point": max_accuracy_drop holds for the measured drop; "confident": for the upper end
    # of its 95% paired interval, i.e. the drop is within budget beyond reasonable doubt
    accuracy_gate: Literal["point", "confident"] = "point"
    # CPU classes (prune2edge.cpu) the latency budget was set on; on another class the latency
    # figures are reported but not gated. Empty: gated on every CPU.
    latency_cpus: tuple[str, ...] = ()
    registered: dict[str, float] = field(default_factory=dict)  # LIMITS' budgets, by key

    @classmethod
    def parse(cls, values: Any, where: str = "budgets") -> Budgets:
        """The [budgets] table, checked: the built-in keys, then the registered ones."""
        if not isinstance(values, Mapping):
            return from_mapping(cls, values, where)  # its one-line error
        plain = {k: v for k, v in values.items() if k not in LIMITS}
        if "registered" in plain:
            known = {f.name for f in dataclasses.fields(cls)} - {"registered"}
            raise unknown_key_error("registered", known | set(LIMITS), where)
        budgets: Budgets = from_mapping(cls, plain, where)
        extra = {k: coerce(v, float, f"{where}.{k}") for k, v in values.items() if k in LIMITS}
        return dataclasses.replace(budgets, registered=extra) if extra else budgets

    def table(self) -> dict[str, Any]:
        """The budgets as a recipe writes them (what report.json records)."""
        plain = {k: v for k, v in to_mapping(self).items()
                 if v is not None and k != "registered"}
        return {**plain, **self.registered}

    def requirements(self) -> list[tuple[Requirement, str]]:
        """What measuring these budgets needs installed: the arena needs TFLM itself."""
        if self.max_arena_bytes is None:
            return []
        key = "board" if self.board else "max_arena_bytes"
        return [(TFLM.without(f"or drop {key} from [budgets]"), f"budgets.{key}")]

    def __post_init__(self) -> None:
        if self.reserve_bytes is not None and self.board is None:
            raise RecipeError("reserve_bytes is what the application keeps of a board",
                              "reserve_bytes", 'name the board too, e.g. board = "nrf52840"')
        if self.board is not None:  # its RAM and flash, less the reserve, where not given
            board = board_named(self.board, "board")
            check_reserve(board, self.reserve_bytes or 0, "reserve_bytes")
            ram, flash = board.limits(self.reserve_bytes or 0)
            for name, value in (("max_arena_bytes", ram), ("max_flash_bytes", flash)):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, value)
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
