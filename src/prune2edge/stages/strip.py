"""`strip`: remove the pruning and clustering wrappers, keeping the zeros and the clusters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..keras import clustering
from ..keras.model import weight_sparsity
from ..report.results import Stripped
from ..requirements import TENSORFLOW, TF_KERAS, TFMOT


@register_stage
@dataclass(frozen=True, kw_only=True)
class Strip(Stage):
    """The model goes back to plain layers, zeros and clusters in place (tfmot's
    `strip_pruning` and `strip_clustering`; in the keras3 engine, the masks applied and
    dropped). A clustered layer's tensors are counted: at most as many distinct values as
    clusters (per channel, per channel)."""

    kind: ClassVar[str] = "strip"
    requires = frozenset({Fact.WRAPPED, Fact.TRAINED})
    needs = (TENSORFLOW, TF_KERAS, TFMOT)  # tfmot's wrappers, schedules and callbacks
    removes = frozenset({Fact.WRAPPED})
    Result = Stripped

    def run(self, ctx: BuildContext) -> BuildContext:
        clustered = clustering.clustered(ctx.model)
        stripped = ctx.setup.engine.strip(ctx.model, ctx.masks)
        sparsity = weight_sparsity(stripped)
        return ctx.evolve(model=stripped, masks=None, result=Stripped(
            sparsity=round(sparsity["overall"], 6), weights=sparsity["weights"],
            zeros=sparsity["zeros"],
            clusters=clustering.distinct_values(stripped, clustered) if clustered else None))
