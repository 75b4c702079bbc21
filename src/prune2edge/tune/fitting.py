"""What a board asks of tune: `[budgets] max_arena_bytes` / `max_flash_bytes` (or a `board`'s)
as constraints of the search. Each candidate's arena is predicted from the file the recipe's
quantize and convert stages make of it (`tflite.arena`: TFLM's planner and persistent data
replayed), its flash is that file's bytes; the finalists' files are run on TensorFlow Lite
Micro, whose own arena decides whether they fit. A budget nothing meets ends the tune in one
line naming the smallest arena reached and the op (layer) that sets it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import BudgetError
from ..recipe.schema import Recipe
from ..tflite.arena import predict
from ..tflite.micro import MicroRunner
from ..tflite.model import TFLiteModel


@dataclass(frozen=True)
class MemoryBudget:
    """The arena and flash a tuned file may need (None: no limit)."""

    max_arena_bytes: int | None = None
    max_flash_bytes: int | None = None

    @classmethod
    def of(cls, recipe: Recipe) -> MemoryBudget:
        return cls(recipe.budgets.max_arena_bytes, recipe.budgets.max_flash_bytes)

    @property
    def active(self) -> bool:
        return self.max_arena_bytes is not None or self.max_flash_bytes is not None

    def fits(self, arena_bytes: int | None, flash_bytes: int | None) -> bool:
        return all(limit is None or (value is not None and value <= limit)
                   for value, limit in ((arena_bytes, self.max_arena_bytes),
                                        (flash_bytes, self.max_flash_bytes)))

    def excess(self, arena_bytes: int, flash_bytes: int) -> float:
        """How far over the budget, as shares of each limit summed (0: it fits)."""
        return sum(max(0.0, value / limit - 1) for value, limit in (
            (arena_bytes, self.max_arena_bytes), (flash_bytes, self.max_flash_bytes))
            if limit is not None)

    def describe(self) -> str:
        parts = [f"{name} = {limit:,}" for name, limit in (
            ("max_arena_bytes", self.max_arena_bytes), ("max_flash_bytes", self.max_flash_bytes))
            if limit is not None]
        return " and ".join(parts)


@dataclass(frozen=True)
class Footprint:
    """A file's predicted arena and flash, the op where the most activation bytes are alive
    (what sets the arena's head), and, once verified, TFLM's own arena."""

    predicted_arena_bytes: int
    flash_bytes: int
    peak_op: str  # "CONV_2D model/conv_pw_1/Relu6 (op 5)"
    arena_bytes: int | None = None  # TFLM's recording allocator's total
    smallest_arena_bytes: int | None = None  # the least arena_size TFLM accepts

    @classmethod
    def of_file(cls, path: Path, verify: bool = False) -> Footprint:
        """The file's footprint; with `verify`, measured on TFLM as well."""
        content = Path(path).read_bytes()
        model = TFLiteModel.read(content, str(path))
        peak = max(model.activation_memory(), key=lambda op: op.live_bytes)
        found = cls(predict(model).total, len(content),
                     f"{peak.op} {peak.output} (op {peak.index})")
        if not verify:
            return found
        arena = MicroRunner(content, str(path)).arena()
        return replace(found, arena_bytes=arena.total, smallest_arena_bytes=arena.smallest)

    @property
    def arena(self) -> int:
        """TFLM's arena where measured, else the predicted one."""
        return self.predicted_arena_bytes if self.arena_bytes is None else self.arena_bytes

    def to_dict(self) -> dict[str, Any]:
        return {"predicted_arena_bytes": self.predicted_arena_bytes,
                "arena_bytes": self.arena_bytes, "smallest_arena_bytes": self.smallest_arena_bytes,
                "flash_bytes": self.flash_bytes, "peak_op": self.peak_op}


def unmet(budget: MemoryBudget, reached: list[tuple[str, Footprint]]) -> BudgetError:
    """The one-line error when no finalist fits: the smallest arena reached (by whom) and
    the op that sets it."""
    name, smallest = min(reached, key=lambda item: (item[1].arena, item[1].flash_bytes))
    return BudgetError(
        f"no candidate fits {budget.describe()}: the smallest arena reached is "
        f"{smallest.arena:,} B ({name}; flash {smallest.flash_bytes:,} B), set by "
        f"{smallest.peak_op}", "budgets",
        "raise the limit, allow more accuracy loss (max_accuracy_drop), extend [tune] ratios, "
        "or narrow that layer in the model")
