"""The Recipe: a checked recipe file (model, data, stages, budgets) as one frozen object."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import DataSpec
from ..engine.distribute import DistributeSpec
from ..engine.pipeline import Pipeline
from ..engine.stage import Stage
from ..keras.load import ModelSpec
from ..params import to_mapping
from ..report.budgets import Budgets
from ..requirements import Requirement
from .tuning import TuneSpec


@dataclass(frozen=True, kw_only=True)
class Recipe:
    name: str
    model: ModelSpec
    data: DataSpec
    stages: tuple[Stage, ...]
    seed: int = 0
    version: int = 1
    budgets: Budgets = field(default_factory=Budgets)
    tune: TuneSpec | None = None  # the [tune] table, for `prune2edge tune`
    distribute: DistributeSpec = field(default_factory=DistributeSpec)
    path: Path | None = None
    overrides: tuple[str, ...] = ()

    @property
    def base_dir(self) -> Path:
        """Where relative sources are looked up: the recipe file's directory."""
        return self.path.parent if self.path else Path.cwd()

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.stages)

    def requirements(self, pipeline: Pipeline | None = None) -> list[tuple[Requirement,
                                                                              str | None]]:
        """What running `pipeline` (default: the recipe's own) and measuring the budgets
        needs installed, and for whom."""
        return [*(pipeline or self.pipeline).requirements(), *self.budgets.requirements()]

    def describe(self) -> dict[str, Any]:
        """The recipe with every default filled in, for the report."""
        return {
            "path": str(self.path) if self.path else None,
            "version": self.version, "name": self.name, "seed": self.seed,
            "model": to_mapping(self.model), "data": to_mapping(self.data),
            "stages": [stage.params() for stage in self.stages],
            "budgets": self.budgets.table(),
            **({"tune": to_mapping(self.tune)} if self.tune else {}),
            **({"distribute": to_mapping(self.distribute)}
               if self.distribute != DistributeSpec() else {}),
            "overrides": list(self.overrides),
        }
