"""`strip`: remove the pruning wrappers, keeping the sparse weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import _compat
from ..context import BuildContext
from ..keras_model import weight_sparsity
from .base import Stage


@dataclass(frozen=True, kw_only=True)
class Strip(Stage):
    """tfmot `strip_pruning`: the model goes back to plain layers, zeros in place."""

    kind: ClassVar[str] = "strip"
    requires: ClassVar[frozenset[str]] = frozenset({"wrapped", "trained"})
    removes: ClassVar[frozenset[str]] = frozenset({"wrapped"})

    def run(self, ctx: BuildContext) -> BuildContext:
        stripped = _compat.tfmot_sparsity().strip_pruning(ctx.model)
        sparsity = weight_sparsity(stripped)
        return ctx.evolve(model=stripped).with_outputs(
            sparsity=round(sparsity["overall"], 6), weights=sparsity["weights"],
            zeros=sparsity["zeros"])
