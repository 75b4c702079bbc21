"""The `[tune]` table: what `prune2edge tune` optimises, over which widths, for how long."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import RecipeError

LADDER = (0.25, 0.5, 0.625, 0.75, 0.8125, 0.875, 0.9375)


@dataclass(frozen=True, kw_only=True)
class TuneSpec:
    """The search `prune2edge tune` runs over the recipe's `structural` stage: each group of
    channels climbs the `ratios` ladder while the accuracy budget (`[budgets]`) holds."""

    objective: Literal["latency", "size", "arena"] = "latency"  # arena: TFLM's, predicted
    search: Literal["greedy", "uniform"] = "greedy"  # per group, or all groups together
    ratios: tuple[float, ...] = LADDER  # the shares a group may lose, in increasing order
    max_trials: int = 40  # candidates scored (one-shot, on the validation split)
    finalists: int = 3  # the most pruned candidates fine-tuned and measured as .tflite
    trial_epochs: int | None = None  # cap on a finalist's training epochs (None: the recipe's)
    time_budget: float | None = None  # seconds for the search; the final build comes after
    validation_share: float = 0.1  # of the training split, held out to select on
    screen_drop: float = 3.0  # points of one-shot validation accuracy a candidate may lose
    max_latency_ratio: float | None = None  # stop once predicted p50 / dense p50 is this low
    max_gzip_bytes: int | None = None  # stop once the predicted int8 size is this small
    jobs: int = 1  # processes sharing each greedy step's trials (`--jobs` overrides it)
    # The size objective's second search, on the structural winner: the recipe's `prune`
    # target sparsity and `cluster` count replaced by these (empty: as written).
    sparsities: tuple[float, ...] = ()  # rising
    clusters: tuple[int, ...] = ()  # falling

    @property
    def compresses(self) -> bool:
        """Whether tune searches sparsity or clusters after the structure."""
        return bool(self.sparsities or self.clusters)

    def __post_init__(self) -> None:
        ladder = list(self.ratios)
        if not ladder or ladder != sorted(set(ladder)) or not 0 < ladder[0] <= ladder[-1] < 1:
            raise RecipeError(f"ratios must rise strictly within (0, 1), got {ladder}",
                              "tune.ratios", "e.g. ratios = [0.25, 0.5, 0.75, 0.875]")
        for name, value, fix in (("max_trials", self.max_trials, "use e.g. max_trials = 40"),
                                 ("jobs", self.jobs, "use e.g. jobs = 2"),
                                 ("finalists", self.finalists, "use e.g. finalists = 3"),
                                 ("trial_epochs", self.trial_epochs,
                                  "leave it out to train as the recipe's stages do")):
            if value is not None and value < 1:
                raise RecipeError(f"{name} must be >= 1, got {value}", f"tune.{name}", fix)
        if not 0 < self.validation_share < 0.5:
            raise RecipeError(f"validation_share must be in (0, 0.5), got "
                              f"{self.validation_share}", "tune.validation_share",
                              "use e.g. 0.1")
        if self.time_budget is not None and self.time_budget <= 0:
            raise RecipeError(f"time_budget must be > 0 seconds, got {self.time_budget}",
                              "tune.time_budget", "leave it out for no limit")
        self._check_compression()
        if self.screen_drop < 0:
            raise RecipeError(f"screen_drop must be >= 0, got {self.screen_drop}",
                              "tune.screen_drop", "use e.g. 3.0 (points)")

    def _check_compression(self) -> None:
        sparsities, clusters = list(self.sparsities), list(self.clusters)
        if sparsities and (sparsities != sorted(set(sparsities))
                           or not 0 < sparsities[0] <= sparsities[-1] < 1):
            raise RecipeError(f"sparsities must rise strictly within (0, 1), got {sparsities}",
                              "tune.sparsities", "e.g. sparsities = [0.75, 0.875, 0.95]")
        if clusters and (clusters != sorted(set(clusters), reverse=True)
                         or not 2 <= clusters[-1] <= clusters[0] <= 256):
            raise RecipeError(f"clusters must fall strictly within [2, 256], got {clusters}",
                              "tune.clusters", "e.g. clusters = [32, 16, 8]")
        if self.compresses and self.objective != "size":
            raise RecipeError("sparsities and clusters are searched for the size objective only",
                              "tune.objective", 'set objective = "size", or leave them out')
