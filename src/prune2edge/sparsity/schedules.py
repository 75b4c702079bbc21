"""Pruning schedules as recipe data, with tfmot's parameter names.

`end_step` may be a step count or a share of the fine-tune steps that follow the prune stage
("70%"); a share is resolved once the data size is known, rounded down to a pruning turn so
the final sparsity is really applied.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from ..errors import RecipeError

S = TypeVar("S", bound="_Schedule")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _check_sparsity(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise RecipeError(f"{name} must be in [0, 1), got {value}", name,
                          "use a fraction of weights to zero, e.g. 0.8 for 80%")


def _percent(value: str) -> float | None:
    match = _PERCENT.match(value)
    return float(match.group(1)) / 100.0 if match else None


@dataclass(frozen=True, kw_only=True)
class _Schedule:
    kind: ClassVar[str]
    begin_step: int
    end_step: int | str
    frequency: int

    def _check_steps(self, allow_forever: bool) -> None:
        """Constant sparsity (`allow_forever`) may prune until training ends (-1) or at one
        turn only (end_step = begin_step), as tfmot's may; a decay needs room to decay."""
        if self.begin_step < 0:
            raise RecipeError(f"begin_step must be >= 0, got {self.begin_step}", "begin_step",
                              "count steps from 0, the first fine-tune batch")
        if self.frequency <= 0:
            raise RecipeError(f"frequency must be > 0, got {self.frequency}", "frequency",
                              "prune every N steps, e.g. frequency = 100")
        if isinstance(self.end_step, str):
            share = _percent(self.end_step)
            if share is None or not 0.0 < share <= 1.0:
                raise RecipeError(f"end_step {self.end_step!r} is not a share of the fine-tune "
                                  "steps", "end_step", 'write a step count or e.g. "70%"')
        elif self.end_step == -1 and allow_forever:
            pass
        elif allow_forever and self.end_step < self.begin_step:  # one turn is allowed
            raise RecipeError(
                f"end_step ({self.end_step}) must not be before begin_step ({self.begin_step})",
                "end_step", f"set end_step >= {self.begin_step} (or -1 to prune until "
                "training ends)")
        elif not allow_forever and self.end_step <= self.begin_step:
            raise RecipeError(
                f"end_step ({self.end_step}) must be after begin_step ({self.begin_step})",
                "end_step", f"set end_step > {self.begin_step}")

    @property
    def end_share(self) -> float | None:
        """The share of fine-tune steps `end_step` names, or None for a step count."""
        return _percent(self.end_step) if isinstance(self.end_step, str) else None

    def resolve(self: S, finetune_steps: int) -> S:
        """This schedule with a share `end_step` turned into a step count."""
        share = self.end_share
        if share is None:
            return self
        turns = int((share * finetune_steps - self.begin_step) // self.frequency)
        end = self.begin_step + turns * self.frequency
        if end <= self.begin_step:
            raise RecipeError(
                f"end_step {self.end_step!r} of {finetune_steps} fine-tune steps leaves no "
                f"pruning turn after begin_step {self.begin_step} at frequency {self.frequency}",
                "end_step", "fine-tune for more steps, lower frequency, or raise the share")
        return dataclasses.replace(self, end_step=end)

    def prunes_at(self, step: int) -> bool:
        """Whether training step `step` (counted from 1) is a pruning turn (tfmot's rule)."""
        end = self._end()
        return (self.begin_step <= step and (end < 0 or step <= end)
                and (step - self.begin_step) % self.frequency == 0)

    def _end(self) -> int:
        if isinstance(self.end_step, str):
            raise ValueError("resolve() the schedule's end_step share first")
        return self.end_step

    def sparsity_at(self, step: int) -> np.float32:
        """The sparsity a pruning turn at `step` applies, in tfmot's float32 arithmetic."""
        raise NotImplementedError

    def to_tfmot(self, sparsity_api: Any) -> Any:
        raise NotImplementedError

    @property
    def target(self) -> float:
        raise NotImplementedError

    def with_target(self: S, sparsity: float) -> S:
        """This schedule ending at `sparsity` instead (what `tune` turns)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class PolynomialDecay(_Schedule):
    """Sparsity rises from initial to final along (1 - progress)^power (Zhu & Gupta, 2017)."""

    kind: ClassVar[str] = "polynomial_decay"
    initial_sparsity: float = 0.0
    final_sparsity: float = 0.5
    begin_step: int = 0
    end_step: int | str = "100%"
    power: float = 3.0
    frequency: int = 100

    def __post_init__(self) -> None:
        _check_sparsity("initial_sparsity", self.initial_sparsity)
        _check_sparsity("final_sparsity", self.final_sparsity)
        if self.initial_sparsity > self.final_sparsity:
            raise RecipeError(
                f"initial_sparsity ({self.initial_sparsity}) is above final_sparsity "
                f"({self.final_sparsity})", "initial_sparsity",
                "sparsity only grows while pruning; swap the two values")
        if self.power <= 0:
            raise RecipeError(f"power must be > 0, got {self.power}", "power",
                              "1 is linear, 3 (tfmot's default) prunes fast early")
        self._check_steps(allow_forever=False)

    @property
    def target(self) -> float:
        return self.final_sparsity

    def with_target(self, sparsity: float) -> PolynomialDecay:
        return dataclasses.replace(self, final_sparsity=sparsity,
                                   initial_sparsity=min(self.initial_sparsity, sparsity))

    def sparsity_at(self, step: int) -> np.float32:
        f32 = np.float32
        progress = f32(step - self.begin_step) / f32(self._end() - self.begin_step)
        progress = min(f32(1.0), max(f32(0.0), progress))
        # TensorFlow's float32 pow is glibc's powf, correctly rounded; NumPy's own float32
        # power (SIMD since 2.3) can be one unit off, so it is taken in float64 and rounded.
        decay = f32(np.power(np.float64(f32(1.0) - progress), np.float64(f32(self.power))))
        return f32(self.initial_sparsity - self.final_sparsity) * decay + f32(self.final_sparsity)

    def to_tfmot(self, sparsity_api: Any) -> Any:
        return sparsity_api.PolynomialDecay(
            initial_sparsity=self.initial_sparsity, final_sparsity=self.final_sparsity,
            begin_step=self.begin_step, end_step=self.end_step, power=self.power,
            frequency=self.frequency)


@dataclass(frozen=True, kw_only=True)
class ConstantSparsity(_Schedule):
    """The same sparsity at every pruning turn between begin_step and end_step."""

    kind: ClassVar[str] = "constant_sparsity"
    target_sparsity: float = 0.5
    begin_step: int = 0
    end_step: int | str = -1
    frequency: int = 100

    def __post_init__(self) -> None:
        _check_sparsity("target_sparsity", self.target_sparsity)
        self._check_steps(allow_forever=True)

    @property
    def target(self) -> float:
        return self.target_sparsity

    def with_target(self, sparsity: float) -> ConstantSparsity:
        return dataclasses.replace(self, target_sparsity=sparsity)

    def sparsity_at(self, step: int) -> np.float32:
        return np.float32(self.target_sparsity)

    def to_tfmot(self, sparsity_api: Any) -> Any:
        return sparsity_api.ConstantSparsity(
            target_sparsity=self.target_sparsity, begin_step=self.begin_step,
            end_step=self.end_step, frequency=self.frequency)


Schedule = PolynomialDecay | ConstantSparsity
