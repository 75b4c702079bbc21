"""Which layers a stage works on: `layers` and `exclude` name layers or layer types, and every
layer with weights left alone says why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError
from ..report.format import table


@dataclass(frozen=True)
class LayerChoice:
    """Whether a layer with weights is chosen, and why not when it is left alone."""

    name: str
    type: str
    chosen: bool
    reason: str = ""


@dataclass(frozen=True)
class Selection:
    """A stage's `layers` and `exclude`, and the words of its errors: the stage's kind, what
    it does ("prune") and what a chosen layer is ("pruned")."""

    layers: tuple[str, ...]
    exclude: tuple[str, ...]
    kind: str
    verb: str
    done: str
    hint: str  # how to choose layers the stage can work on

    def choose(self, layers: Sequence[Any],
               judge: Callable[[Any], str | None]) -> list[LayerChoice]:
        """A choice per layer with weights; `judge(layer)` says why the stage cannot work on
        a layer (None: it can). Raises ModelError for names that match no layer, for a layer
        named in `layers` that cannot be chosen, and when nothing is chosen."""
        names = {n for layer in layers for n in (layer.name, type(layer).__name__)}
        for option, entries in (("layers", self.layers), ("exclude", self.exclude)):
            unknown = [e for e in entries if e not in names]
            if unknown:
                available = ", ".join(layer.name for layer in layers)
                raise ModelError(f"{option} names {unknown[0]!r}, which is no layer name or type",
                                 f"{self.kind}.{option}", f"the model's layers are: {available}")
        choices = [self._choose(layer, judge) for layer in layers if layer.weights]
        if not any(c.chosen for c in choices):
            reasons = "; ".join(f"{c.name}: {c.reason}" for c in choices) or "no layer has weights"
            raise ModelError(f"nothing to {self.verb}", f"{self.kind} ({reasons})", self.hint)
        return choices

    def _choose(self, layer: Any, judge: Callable[[Any], str | None]) -> LayerChoice:
        name, kind = layer.name, type(layer).__name__
        named = name in self.layers or kind in self.layers
        if self.layers and not named:
            return LayerChoice(name, kind, False, f"not listed in {self.kind}.layers")
        if name in self.exclude or kind in self.exclude:
            return LayerChoice(name, kind, False, f"listed in {self.kind}.exclude")
        reason = judge(layer)
        if reason is None:
            return LayerChoice(name, kind, True)
        if named:
            raise ModelError(f"layer {name!r} ({kind}) cannot be {self.done}: {reason}",
                             f"{self.kind}.layers", "remove it from `layers`")
        return LayerChoice(name, kind, False, reason)


def left_alone(title: str, rows: list[dict[str, str]]) -> list[str]:
    """report.md lines listing the layers a stage left alone ({layer, type, reason} rows)."""
    if not rows:
        return []
    return [title, "", table(["layer", "type", "reason"],
                             [[r["layer"], r["type"], r["reason"]] for r in rows]), ""]
