"""Which channels each prunable group keeps, per group or ranked over all groups."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .plan import Group, Plan

# How the members of a group (producers tied by merges) combine their channel scores.
REDUCTIONS: dict[str, Callable[[list[np.ndarray]], np.ndarray]] = {
    "sum": lambda scores: sum(scores[1:], scores[0]),
    "mean": lambda scores: sum(scores[1:], scores[0]) / len(scores),
    "max": lambda scores: np.maximum.reduce(scores),
}


def group_scores(plan_: Plan, scores: dict[str, np.ndarray],
                 reduction: str = "sum") -> dict[str, np.ndarray]:
    """One score per channel of every prunable group, from one per channel of each producer
    (a criterion's), its members' reduced by `reduction` (a name in REDUCTIONS)."""
    reduce = REDUCTIONS[reduction]
    return {g.name: reduce([scores[m] for m in g.members]) for g in plan_.prunable}


def select(plan_: Plan, scores: dict[str, np.ndarray], ratios: dict[str, float],
           min_width: int, allocation: str, round_to: int = 1) -> dict[str, np.ndarray]:
    """The channels each prunable group keeps: per group (`uniform`) or ranked over all groups
    (`global`), never fewer than `min_width`, and a multiple of `round_to` where the group is
    that wide. `scores` is one score per channel per group (by `Group.name`, e.g. from
    `group_scores`); `ratios` the share to remove per group (by any member's name, "*" for the
    rest). A group whose channels go in blocks (`Group.step`, grouped convolutions) keeps or
    drops whole blocks."""
    units = {g.name: _unit_scores(g, scores[g.name]) for g in plan_.prunable}
    multiple = {g.name: math.lcm(g.step, round_to) // g.step for g in plan_.prunable}
    floor = {g.name: min(len(units[g.name]), -(-min(g.width, min_width) // g.step))
             for g in plan_.prunable}
    if allocation == "uniform":
        kept = {}
        for group in plan_.prunable:
            ratio = next((ratios[m] for m in group.members if m in ratios), ratios["*"])
            total = len(units[group.name])
            count = max(floor[group.name], total - int(total * ratio))
            kept[group.name] = _top(units[group.name],
                                    _rounded(count, multiple[group.name], total))
    else:
        kept = _global(plan_.prunable, units, floor, multiple, ratios["*"])
    return {member: _channels(kept[g.name], g.step) for g in plan_.prunable
            for member in g.members}


def _unit_scores(group: Group, scores: np.ndarray) -> np.ndarray:
    """The group's channel scores, added per block where channels go in blocks."""
    return scores.reshape(-1, group.step).sum(axis=1) if group.step > 1 else scores


def _rounded(count: int, multiple: int, total: int) -> int:
    return min(total, -(-count // multiple) * multiple)


def _top(unit_scores: np.ndarray, count: int) -> np.ndarray:
    return np.sort(np.argsort(-unit_scores, kind="stable")[:count])


def _global(groups: list[Group], units: dict[str, np.ndarray], floor: dict[str, int],
            multiple: dict[str, int], ratio: float) -> dict[str, np.ndarray]:
    """Remove the lowest units over all groups (scores divided by their group's mean so that
    layers of different scales compare), counting channels, until `ratio` of them are gone."""
    normalised = {name: s / (s.mean() or 1.0) for name, s in units.items()}
    step = {g.name: g.step for g in groups}
    target = int(sum(g.width for g in groups) * ratio)
    kept = {name: np.ones(len(s), bool) for name, s in units.items()}
    ranked = sorted((score, name, index) for name, s in normalised.items()
                    for index, score in enumerate(s))
    removed = 0
    for _, name, index in ranked:
        if removed >= target:
            break
        if kept[name].sum() > floor[name]:
            kept[name][index] = False
            removed += step[name]
    result = {}
    for name, mask in kept.items():
        count = _rounded(int(mask.sum()), multiple[name], len(mask))
        result[name] = _top(units[name], count) if count != mask.sum() else np.flatnonzero(mask)
    return result


def _channels(kept_units: np.ndarray, step: int) -> np.ndarray:
    if step == 1:
        return kept_units
    return (kept_units[:, None] * step + np.arange(step)).ravel()
