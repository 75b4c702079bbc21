"""The stage contract: a frozen dataclass of parameters plus `run(ctx) -> ctx`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..context import BuildContext
from ..params import from_mapping, to_mapping


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One step of a pipeline.

    `requires`, `provides`, `removes` and `forbids` name facts about the build ("wrapped":
    the model has pruning wrappers, "tflite": a .tflite exists, ...); the pipeline checks
    the chain before any work starts.
    """

    kind: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    removes: ClassVar[frozenset[str]] = frozenset()
    forbids: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_params(cls, params: Mapping[str, Any], where: str) -> Stage:
        return from_mapping(cls, params, where)

    def params(self) -> dict[str, Any]:
        """The stage as recipe data (with its kind)."""
        return to_mapping(self)

    def summary(self) -> str:
        """A few words for progress lines, e.g. 'epochs=10'."""
        return ""

    def check_neighbours(self, before: Sequence[Stage], after: Sequence[Stage]) -> None:
        """Raise RecipeError if this stage cannot work with the stages around it."""

    def preflight(self, ctx: BuildContext) -> None:
        """Raise if this stage cannot work on the loaded model and data; runs before any stage."""

    def run(self, ctx: BuildContext) -> BuildContext:
        raise NotImplementedError

    def replay(self, ctx: BuildContext) -> BuildContext:
        """Redo this finished stage's effect on the context when a build resumes after it.

        Models are restored from the checkpoint; only stages that leave something else in the
        context (e.g. a quantization plan) need to override this."""
        return ctx
