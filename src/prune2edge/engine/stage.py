"""The stage contract: a frozen dataclass of parameters plus `run(ctx) -> ctx`.

A stage kind is one file in `stages/`: the class, decorated with `@register_stage`, declares
the facts it needs and makes (`Fact` members, checked when the class is defined), its traits,
and the report section it contributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..params import from_mapping, to_mapping
from ..report.results import StageResult
from ..requirements import TENSORFLOW, TF_KERAS, Requirement
from .context import BuildContext, StageRecord
from .facts import Fact, Facts

if TYPE_CHECKING:
    from ..report.schema import BuildReport

FACT_SETS = ("requires", "provides", "removes", "forbids")


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One step of a pipeline.

    `requires`, `provides`, `removes` and `forbids` are sets of `Fact`s about the build; the
    pipeline checks the chain before any work starts. Traits say what kind of work a stage
    does, so other code never compares kind names.
    """

    kind: ClassVar[str]
    requires: ClassVar[Facts] = frozenset()
    provides: ClassVar[Facts] = frozenset()
    removes: ClassVar[Facts] = frozenset()
    forbids: ClassVar[Facts] = frozenset()

    needs: ClassVar[tuple[Requirement, ...]] = (TENSORFLOW, TF_KERAS)  # installed packages
    Result: ClassVar[type[StageResult]] = StageResult  # what `run` reports (`ctx.result`)

    trains: ClassVar[bool] = False  # trains the model: checkpointed after every epoch
    applies_masks: ClassVar[bool] = False  # a prune schedule advances during its training
    prunes: ClassVar[bool] = False  # removes weights or channels
    sets_baseline: ClassVar[str] = ""  # what the baseline is after it, if it makes it
    engines: ClassVar[frozenset[str]] = frozenset({"tf_keras", "keras3"})  # it runs in

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in FACT_SETS:
            facts = getattr(cls, name)
            if not isinstance(facts, frozenset) or not all(isinstance(f, Fact) for f in facts):
                raise TypeError(f"{cls.__name__}.{name} must be a frozenset of Fact members, "
                                f"got {facts!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any], where: str) -> Stage:
        stage: Stage = from_mapping(cls, params, where)
        return stage

    def params(self) -> dict[str, Any]:
        """The stage as recipe data (with its kind)."""
        params: dict[str, Any] = to_mapping(self)
        return params

    def made(self) -> Facts:
        """The facts this stage, with these parameters, makes true (by default `provides`)."""
        return self.provides

    def summary(self) -> str:
        """A few words for progress lines, e.g. 'epochs=10'."""
        return ""

    def requirements(self) -> tuple[Requirement, ...]:
        """What this stage, with these parameters, needs installed (by default `needs`);
        a build checks every stage's before any work."""
        return self.needs

    def check_neighbours(self, before: Sequence[Stage], after: Sequence[Stage]) -> None:
        """Raise RecipeError if this stage cannot work with the stages around it."""

    def preflight(self, ctx: BuildContext) -> None:
        """Raise if this stage cannot work on the loaded model and data; runs before any stage."""

    def unsupported(self, engine: str) -> str | None:
        """Why this stage, with these parameters, cannot run in `engine` ("tf_keras" or
        "keras3"); None when it can (by default: when `engines` names it)."""
        return None if engine in self.engines else f"{self.kind} runs in the tf_keras engine only"

    def run(self, ctx: BuildContext) -> BuildContext:
        raise NotImplementedError

    def replay(self, ctx: BuildContext) -> BuildContext:
        """Redo this finished stage's effect on the context when a build resumes after it.

        Models are restored from the checkpoint; only stages that leave something else in the
        context (e.g. a quantization plan) need to override this."""
        return ctx

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        """The report.json fields this kind contributes, from the records of its stages in
        the build (in order, each with a `cls.Result` as `result`). Dict values are merged
        into the report's own; a field the report does not know is kept beside them."""
        return {}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        """This kind's section of report.md (lines), from the finished report."""
        return []
