"""Step 3 of tune: from nothing removed, every group tries the next ratio of the ladder, each
candidate scored one-shot; the step with the most objective saved per validation point lost
wins, while the one-shot loss stays within `screen_drop`. Until no step qualifies, a target
is reached, or trials or time run out. Trials an interrupted tune already scored are read
from its memory instead of scored again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..jobs import Jobs
from ..progress import Reporter
from ..recipe.tuning import TuneSpec
from .findings import Search, Trial, objective, objective_text
from .fitting import Footprint
from .measure import Candidate, Scorer
from .memory import Memory

NOISE = 0.002  # validation accuracy differences below this are not told apart


def greedy(search: Search, pool: Jobs, start: float, reporter: Reporter, memory: Memory,
           gzip_of: Callable[[Candidate], int],
           footprint_of: Callable[[Candidate], Footprint]) -> None:
    """Climb the ladder; `gzip_of` gives a candidate's file size (for `max_gzip_bytes`),
    `footprint_of` its file's arena and flash (for the arena objective and memory budgets:
    a step that shrinks no tensor alive at the arena's peak saves nothing, so the groups
    feeding the peak are the ones taken)."""
    spec = search.spec
    current = search.dense
    limit = search.dense.accuracy - spec.screen_drop / 100
    finished: dict[int, tuple[Candidate, float]] = {}  # a step's trials, and when they ended
    with reporter.task("tune", spec.max_trials, "trials") as task:

        def done(step: tuple[int, dict[str, float]], candidate: Candidate,
                 seconds: float | None = None) -> None:
            if seconds is None:
                seconds = time.monotonic() - start
                memory.keep_trial(candidate.settings(), {
                    "accuracy": candidate.accuracy, "macs": candidate.macs,
                    "params": candidate.params, "seconds": seconds})
            finished[step[0]] = candidate, seconds
            best = search.path[-1] if search.path else search.dense
            task.advance(status=f"best {objective_text(search, best)}")

        while len(search.trials) < spec.max_trials and not target_reached(
                search, current, gzip_of):
            if _late(spec, start):
                return
            steps = next_steps(spec, current.ratios, together=search.needs_footprints)[
                :spec.max_trials - len(search.trials)]
            finished.clear()
            try:
                candidates = _scored(pool, list(enumerate(steps)), done, memory)
            finally:  # the step's finished trials, in order, even when Ctrl-C stops it
                search.trials += [_trial(search, *finished[i]) for i in sorted(finished)]
            proposals = [c for c in candidates if c.accuracy >= limit]
            if search.needs_footprints:
                proposals = [replace(c, footprint=footprint_of(c)) for c in proposals]
            if not proposals:
                return
            current = max(proposals, key=lambda c: _efficiency(search, current, c))
            search.path.append(current)
            accepted = next(i for i in reversed(range(len(search.trials)))
                            if search.trials[i].ratios == current.settings())
            search.trials[accepted] = replace(search.trials[accepted], accepted=True)


def _scored(pool: Jobs, steps: list[tuple[int, dict[str, float]]], done: Any,
            memory: Memory) -> list[Candidate]:
    """The steps' candidates: those an earlier run scored from its memory, the rest scored
    (by the pool's processes); `done` hears of each."""
    known: dict[int, Candidate] = {}
    for index, ratios in steps:
        figures = memory.trial({k: v for k, v in ratios.items() if v})
        if figures is not None:
            known[index] = Candidate(dict(ratios), figures["accuracy"], figures["macs"],
                                     figures["params"])
            done((index, ratios), known[index], figures["seconds"])
    todo = [step for step in steps if step[0] not in known]
    known.update(zip((i for i, _ in todo), pool.map(Scorer.trial, todo, done), strict=True))
    return [known[index] for index, _ in steps]


def next_steps(spec: TuneSpec, ratios: dict[str, float],
               together: bool = False) -> list[dict[str, float]]:
    """The settings one rung up the ladder from `ratios`: each group's alone (`search =
    "greedy"`), or every group's at once (`"uniform"`, one candidate per step). `together`
    adds the every-group step to the greedy ones (for a memory budget: the flash is spread
    over every layer, the arena's peak over a few, and the step closing most of the distance
    per point lost should be among the candidates either way)."""
    up = {group: next((r for r in spec.ratios if r > ratio), None)
          for group, ratio in ratios.items()}
    raised = {group: ratio for group, ratio in up.items() if ratio is not None}
    every = [raised] if len(raised) == len(up) else []
    if spec.search == "uniform":
        return every
    alone = [{**ratios, group: ratio} for group, ratio in raised.items()]
    return alone + (every if together and len(up) > 1 else [])


def _efficiency(search: Search, current: Candidate, step: Candidate) -> float:
    """Cost saved per accuracy lost; losses under a fifth of a point (noise on a validation
    split of a few thousand samples) count as a fifth of a point, so that a step saving much
    is not passed over for one saving little at no measured cost."""
    gain = _cost(search, current) - _cost(search, step)
    return gain / max(current.accuracy - step.accuracy, NOISE)


def _cost(search: Search, candidate: Candidate) -> float:
    """The objective; with a memory budget, how far the candidate's file is over it (so the
    steps that shrink what the budget is short of win: the groups alive at the arena's
    peak for the arena, the widest layers for the flash)."""
    footprint = candidate.footprint
    if search.budget.active and footprint is not None:
        return search.budget.excess(footprint.arena, footprint.flash_bytes)
    return objective(search, candidate)


def target_reached(search: Search, current: Candidate, gzip_of: Callable[[Candidate], int]) -> bool:
    """Whether the target is met: the predicted latency ratio, or the gzip bytes of the file
    the recipe's quantize and convert stages make of the candidate; with a memory budget,
    and that file's predicted arena and flash fit it (the budget alone is a target)."""
    spec = search.spec
    footprint = current.footprint
    fits = not search.budget.active or (
        footprint is not None and search.budget.fits(footprint.arena, footprint.flash_bytes))
    if spec.objective == "latency" and spec.max_latency_ratio is not None:
        return fits and objective(search, current) <= spec.max_latency_ratio * objective(
            search, search.dense)
    if spec.objective == "size" and spec.max_gzip_bytes is not None:
        return fits and gzip_of(current) <= spec.max_gzip_bytes
    return search.budget.active and fits


def _late(spec: TuneSpec, start: float) -> bool:
    return spec.time_budget is not None and time.monotonic() - start > spec.time_budget


def _trial(search: Search, candidate: Candidate, seconds: float) -> Trial:
    return Trial(ratios=candidate.settings(), accepted=False,
                 validation_accuracy_one_shot=candidate.accuracy,
                 macs=candidate.macs, params=candidate.params,
                 predicted_p50_ms=None if search.latency is None
                 else round(search.latency.predict(candidate.macs), 5),
                 seconds=round(seconds, 2))
