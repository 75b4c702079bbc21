"""How sure an accuracy figure is: Wilson score intervals for one accuracy, and for the
baseline -> final change (final minus baseline, in points; negative is a loss), measured on
the same test samples, a paired interval (Newcombe's hybrid score method, 1998, method 10)
and McNemar's exact test on the discordant samples.

The paired tools use only the samples where exactly one of the two models is right: b (the
baseline right, the final wrong) and c (the other way round); the change is (c - b) / n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Z95 = 1.959963984540054  # two-sided 95%


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion correct / n."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: under no difference, b ~ Binomial(b + c, 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_difference(both: int, b: int, c: int, neither: int,
                      z: float = Z95) -> tuple[float, float]:
    """The interval of p1 - p2 = (b - c) / n for paired proportions (Newcombe method 10):
    Wilson intervals of the two accuracies, combined with their correlation phi."""
    n = both + b + c + neither
    p1, p2 = (both + b) / n, (both + c) / n
    l1, u1 = wilson(both + b, n, z)
    l2, u2 = wilson(both + c, n, z)
    margins = (both + b) * (c + neither) * (both + c) * (b + neither)
    phi = (both * neither - b * c) / math.sqrt(margins) if margins else 0.0
    d = p1 - p2
    lower = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return d - lower, d + upper


@dataclass(frozen=True)
class Paired:
    """The baseline -> final comparison on the same n test samples."""

    n: int
    both: int  # both right
    b: int  # only the baseline right
    c: int  # only the final model right
    neither: int

    @classmethod
    def of(cls, baseline_right: np.ndarray, final_right: np.ndarray) -> Paired:
        base, final = np.asarray(baseline_right, bool), np.asarray(final_right, bool)
        return cls(len(base), int(np.sum(base & final)), int(np.sum(base & ~final)),
                   int(np.sum(~base & final)), int(np.sum(~base & ~final)))

    def to_dict(self) -> dict[str, Any]:
        """Report fields: the change's 95% interval in points (final minus baseline),
        McNemar's p, and a verdict."""
        low, high = paired_difference(self.both, self.b, self.c, self.neither)  # of the drop
        p = mcnemar_exact(self.b, self.c)
        return {"change_pt_95": [round(-high * 100, 4), round(-low * 100, 4)],
                "only_baseline_right": self.b, "only_final_right": self.c,
                "mcnemar_p": round(p, 6), "verdict": verdict(self.b, self.c, p)}


def verdict(b: int, c: int, p: float) -> str:
    """One plain sentence on the change."""
    if p >= 0.05:
        return "the difference is within noise (McNemar p >= 0.05)"
    worse = "worse" if b > c else "better"
    return f"the final model is significantly {worse} (McNemar p < 0.05)"


def interval(correct_fraction: float, n: int) -> list[float]:
    """The 95% Wilson interval of an accuracy measured on n samples, for the report."""
    low, high = wilson(round(correct_fraction * n), n)
    return [round(low, 6), round(high, 6)]
