"""What a tune search has found: its trials, the greedy path, the latency model, the
finalists and the winner, and the objective it ranks them by."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..recipe.tuning import TuneSpec
from .measure import Candidate, LatencyModel


@dataclass
class Search:
    """Everything the search learnt, in order; what tune.json and the plot are made of."""

    spec: TuneSpec
    dense: Candidate
    trials: list[dict[str, Any]] = field(default_factory=list)
    path: list[Candidate] = field(default_factory=list)  # accepted steps, least pruned first
    latency: LatencyModel | None = None
    finalists: list[dict[str, Any]] = field(default_factory=list)
    winner: dict[str, Any] | None = None
    interrupted: bool = False
    seconds: float = 0.0


def objective(search: Search, candidate: Candidate) -> float:
    """Predicted p50 (ms) for latency, parameters for size: lower is better."""
    if search.spec.objective == "size" or search.latency is None:
        return float(candidate.params)
    return search.latency.predict(candidate.macs)


def objective_text(search: Search, candidate: Candidate) -> str:
    """The objective with its unit, for progress lines."""
    if search.spec.objective == "size" or search.latency is None:
        return f"{candidate.params:,} parameters"
    return f"{objective(search, candidate):.4g} ms predicted p50"
