"""What a tune search has found: its trials, the greedy path, the latency model, the
finalists and the winner, and the objective it ranks them by."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..recipe.tuning import TuneSpec
from .fitting import Footprint, MemoryBudget
from .measure import Candidate, LatencyModel

SPARSITY, CLUSTERS = "sparsity", "clusters"  # the knobs the compression search turns


def label(knobs: dict[str, float]) -> str:
    """`knobs` in words: "sparsity 87.5%, 8 clusters"."""
    parts = [f"sparsity {knobs[SPARSITY]:.1%}"] if SPARSITY in knobs else []
    return ", ".join(parts + ([f"{int(knobs[CLUSTERS])} clusters"] if CLUSTERS in knobs
                              else []))


@dataclass(frozen=True, kw_only=True)
class Trial:
    """One greedy step tried: its ratios, whether the search took it, its one-shot figures,
    the p50 the latency model predicts for it, and when it ended (seconds into the tune)."""

    ratios: dict[str, float]
    accepted: bool
    validation_accuracy_one_shot: float
    macs: int
    params: int
    predicted_p50_ms: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Finalist:
    """A model fine-tuned by the recipe's stages and measured (or the dense one, `step`
    None and no `knobs`): its validation accuracy, p50 and gzip bytes, and whether it is
    within budget. `knobs` are the sparsity and clusters the compression search set."""

    ratios: dict[str, float]
    macs: int
    params: int
    validation_accuracy: float
    p50_ms: float
    gzip_bytes: int
    within_budget: bool
    step: int | None = None  # its place on the greedy path (1-based); None: the dense model
    predicted_p50_ms: float | None = None
    latency_ratio: float | None = None  # p50 / the dense model's
    gzip_ratio: float | None = None  # the dense model's gzip bytes / its own
    knobs: dict[str, float] = field(default_factory=dict)
    footprint: Footprint | None = None  # its file's arena (predicted and on TFLM) and flash

    @property
    def arena_bytes(self) -> int | None:
        """TFLM's arena for its file (the predicted one where TFLM did not measure it)."""
        return None if self.footprint is None else self.footprint.arena

    @property
    def dense(self) -> bool:
        return self.step is None and not self.knobs

    def describe(self) -> str:
        """"dense", or its ratios and knobs in words."""
        if self.dense:
            return "dense"
        shares = set(self.ratios.values())
        ratios = (f"every group {shares.pop():.0%}" if len(self.ratios) > 1 and len(shares) == 1
                  else ", ".join(f"{k} {v:.0%}" for k, v in self.ratios.items()))
        return " · ".join(part for part in (ratios, label(self.knobs)) if part)

    def to_dict(self) -> dict[str, Any]:
        """tune.json's finalist: the dense one with `dense: true`, the others with their step
        and ratios to the dense one."""
        shared = {"ratios": self.ratios, "macs": self.macs, "params": self.params}
        measured: dict[str, Any] = {"validation_accuracy": self.validation_accuracy,
                                    "p50_ms": self.p50_ms, "gzip_bytes": self.gzip_bytes}
        if self.footprint is not None:
            measured["memory"] = self.footprint.to_dict()
        if self.dense:
            return {**shared, "dense": True, **measured, "within_budget": self.within_budget}
        return {"step": self.step, **shared, **({"knobs": self.knobs} if self.knobs else {}),
                **measured,
                "predicted_p50_ms": self.predicted_p50_ms, "latency_ratio": self.latency_ratio,
                "gzip_ratio": self.gzip_ratio, "within_budget": self.within_budget}


@dataclass
class Search:
    """Everything the search learnt, in order; what tune.json and the plot are made of."""

    spec: TuneSpec
    dense: Candidate
    trials: list[Trial] = field(default_factory=list)
    path: list[Candidate] = field(default_factory=list)  # accepted steps, least pruned first
    latency: LatencyModel | None = None
    finalists: list[Finalist] = field(default_factory=list)
    winner: Finalist | None = None
    interrupted: bool = False
    seconds: float = 0.0
    budget: MemoryBudget = field(default_factory=MemoryBudget)

    @property
    def needs_footprints(self) -> bool:
        """Whether candidates' files are made for their arena and flash as they are scored."""
        return self.spec.objective == "arena" or self.budget.active

    @property
    def verifies_arena(self) -> bool:
        """Whether the finalists' arenas are measured on TFLM (which the arena objective and
        an arena budget require installed; a flash budget alone needs only the file)."""
        return self.spec.objective == "arena" or self.budget.max_arena_bytes is not None


def choose(search: Search) -> Finalist | None:
    """The winner (kept in `search` too): the finalist within the budget with the lowest p50,
    gzip bytes or arena; the dense one is unless a memory budget rules it out (None: no
    finalist is)."""
    objective = search.spec.objective
    search.winner = min((f for f in search.finalists if f.within_budget), default=None,
                        key=lambda f: f.p50_ms if objective == "latency" else (
                            f.gzip_bytes if objective == "size" else f.arena_bytes or 0))
    return search.winner


def objective(search: Search, candidate: Candidate) -> float:
    """Predicted p50 (ms) for latency, parameters for size, the predicted arena for arena:
    lower is better."""
    if search.spec.objective == "arena" and candidate.footprint is not None:
        return float(candidate.footprint.arena)
    if search.spec.objective == "size" or search.latency is None:
        return float(candidate.params)
    return search.latency.predict(candidate.macs)


def objective_text(search: Search, candidate: Candidate) -> str:
    """The objective with its unit, for progress lines."""
    if search.spec.objective == "arena" and candidate.footprint is not None:
        return f"{candidate.footprint.arena:,} B arena (predicted)"
    if search.spec.objective == "size" or search.latency is None:
        return f"{candidate.params:,} parameters"
    return f"{objective(search, candidate):.4g} ms predicted p50"
