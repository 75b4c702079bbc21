"""`strip`: remove the pruning and clustering wrappers, keeping the zeros and the clusters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..engine.context import BuildContext
from ..engine.facts import Fact
from ..engine.model_engine import ModelEngine
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..keras.model import weight_sparsity
from ..report.results import Stripped
from ..requirements import TENSORFLOW, TF_KERAS, TFMOT
from ..sparsity.distinct import most_in_a_channel


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
        engine = ctx.setup.engine
        clustered = engine.clustered(ctx.model, ctx.masks)
        stripped = engine.strip(ctx.model, ctx.masks)
        sparsity = weight_sparsity(stripped)
        return ctx.evolve(model=stripped, masks=None, result=Stripped(
            sparsity=round(sparsity["overall"], 6), weights=sparsity["weights"],
            zeros=sparsity["zeros"],
            clusters=distinct_values(engine, stripped, clustered) if clustered else None))


def distinct_values(engine: ModelEngine, model: Any,
                    layers: dict[str, tuple[int, bool]]) -> list[dict[str, Any]]:
    """For each layer in `layers` (as `engine.clustered` gives them) of the stripped `model`:
    the clusters asked and the most distinct values in one of its clustered tensors (in one
    channel, per channel)."""
    named = {layer.name: layer for layer in engine.layers(model)}
    found = []
    for name, (clusters, per_channel) in layers.items():
        axis = -1 if per_channel else None
        counts = [most_in_a_channel(np.asarray(w.numpy()), axis)
                  for w in engine.clusterable_weights(named[name]) or []]
        found.append({"layer": name, "clusters": clusters, "distinct": max(counts, default=0),
                      "per_channel": per_channel})
    return found
