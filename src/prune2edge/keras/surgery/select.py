"""Which channels each prunable group keeps, per group or ranked over all groups."""

from __future__ import annotations

import numpy as np

from .plan import Plan


def select(plan_: Plan, scores: dict[str, np.ndarray], ratios: dict[str, float],
           min_width: int, allocation: str) -> dict[str, np.ndarray]:
    """The channels each prunable group keeps: per group (`uniform`) or ranked over all groups
    (`global`), never fewer than `min_width`. `scores` is one score per channel per producer;
    `ratios` the share to remove per group (by any member's name, "*" for the rest)."""
    keep: dict[str, np.ndarray] = {}
    group_scores = {g.name: _summed([scores[m] for m in g.members]) for g in plan_.prunable}
    floor = {g.name: min(g.width, min_width) for g in plan_.prunable}
    if allocation == "uniform":
        for group in plan_.prunable:
            ratio = next((ratios[m] for m in group.members if m in ratios), ratios["*"])
            count = max(floor[group.name], group.width - int(group.width * ratio))
            keep[group.name] = np.sort(np.argsort(-group_scores[group.name],
                                                  kind="stable")[:count])
    else:
        normalised = {name: s / (s.mean() or 1.0) for name, s in group_scores.items()}
        total = sum(g.width for g in plan_.prunable)
        target = int(total * ratios["*"])
        kept = {g.name: np.ones(g.width, bool) for g in plan_.prunable}
        ranked = sorted((score, name, index) for name, s in normalised.items()
                        for index, score in enumerate(s))
        removed = 0
        for _, name, index in ranked:
            if removed >= target:
                break
            if kept[name].sum() > floor[name]:
                kept[name][index] = False
                removed += 1
        keep = {name: np.flatnonzero(mask) for name, mask in kept.items()}
    return {member: keep[g.name] for g in plan_.prunable for member in g.members}


def _summed(arrays: list[np.ndarray]) -> np.ndarray:
    """The members' scores added channel by channel, in member order."""
    total = arrays[0]
    for array in arrays[1:]:
        total = total + array
    return total
