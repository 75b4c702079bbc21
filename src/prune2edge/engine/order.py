"""The order check: every stage's required facts made by the stages before it, no forbidden
ones, and each stage's own look at its neighbours; all before any work starts."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import RecipeError
from .facts import INITIAL, Fact
from .registry import makers_of
from .stage import Stage


def check_order(stages: Sequence[Stage]) -> None:
    """Raise RecipeError naming the first stage whose requirements the ones before it miss."""
    if not stages:
        raise RecipeError("the pipeline has no stages", None,
                          'add [[stages]] tables, e.g. kind = "convert"')
    facts = set(INITIAL)
    made_by = dict.fromkeys(INITIAL, "the model source")
    for index, stage in enumerate(stages, 1):
        where = f"stage {index} ({stage.kind})"
        for fact in [f for f in Fact if f in stage.requires - facts]:  # most basic first
            raise RecipeError(f"{stage.kind} needs {fact.meaning}", where,
                              f"add a {makers_of(fact)[0]} stage before it")
        for fact in [f for f in Fact if f in stage.forbids & facts]:
            raise RecipeError(f"{stage.kind} cannot come after {made_by[fact]}", where,
                              fact.forbidden_fix.format(kind=stage.kind))
        try:
            stage.check_neighbours(stages[: index - 1], stages[index:])
        except RecipeError as exc:
            raise exc.located(where) from exc
        facts = (facts - stage.removes) | stage.made()
        made_by.update(dict.fromkeys(stage.made(), stage.kind))
