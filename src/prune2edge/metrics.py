"""Top-1 hits and accuracy from class scores: the one definition every figure uses."""

from __future__ import annotations

from typing import Any

import numpy as np


def hits(scores: Any, labels: Any) -> np.ndarray:
    """Per sample, whether the highest score is the label's class."""
    return np.asarray(scores).argmax(1) == labels


def top1(scores: Any, labels: Any) -> float:
    """The share of samples whose highest score is the label's class (or, given another
    model's scores as `labels`' argmax, where two models pick the same class)."""
    return float(np.mean(hits(scores, labels)))
