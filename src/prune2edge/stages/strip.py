"""`strip`: remove the pruning wrappers, keeping the sparse weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import _compat
from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..keras.model import weight_sparsity
from ..report.results import Stripped
from ..requirements import TENSORFLOW, TF_KERAS, TFMOT


@register_stage
@dataclass(frozen=True, kw_only=True)
class Strip(Stage):
    """tfmot `strip_pruning`: the model goes back to plain layers, zeros in place."""

    kind: ClassVar[str] = "strip"
    requires = frozenset({Fact.WRAPPED, Fact.TRAINED})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's wrappers, schedules and callbacks
    removes = frozenset({Fact.WRAPPED})
    Result = Stripped

    def run(self, ctx: BuildContext) -> BuildContext:
        stripped = _compat.tfmot_sparsity().strip_pruning(ctx.model)
        sparsity = weight_sparsity(stripped)
        return ctx.evolve(model=stripped, result=Stripped(
            sparsity=round(sparsity["overall"], 6), weights=sparsity["weights"],
            zeros=sparsity["zeros"]))
