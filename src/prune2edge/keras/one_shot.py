"""Pruning at once, before any fine-tuning: each chosen layer's lowest-ranked weights zeroed
by a criterion (magnitude, OBD), or pruned and reconstructed layer by layer (OBS); any Keras."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..progress import Task
from . import reconstruct
from .criteria import criterion, kernel_mask


def prune_once(model: Any, layers: list[Any], weights: list[Any], name: str,
               x: np.ndarray | None, sparsity: float, damping: float = 0.01,
               m_by_n: tuple[int, int] | None = None,
               task: Task | None = None) -> list[dict[str, Any]] | None:
    """Zero `sparsity` of the chosen `layers`' pruned `weights` (of a tf_keras or a Keras 3
    model), or m of every n along their input axis, in place, ranked by criterion `name` on
    calibration samples `x`. OBS prunes and reconstructs the layers one by one instead, in
    the order given (the order they run):
    one row per layer says how much of its output error the reconstruction removed (`task`
    advances once per layer)."""
    if name == "obs":
        if x is None:
            raise ValueError("OBS needs calibration samples (x)")
        return reconstruct.prune_layers(model, layers, x, sparsity, damping, m_by_n, task)
    scores = criterion(name).weight_scores(model, weights, x)
    for variable, score in zip(weights, scores, strict=True):
        variable.assign(variable.numpy() * kernel_mask(score, sparsity, m_by_n))
    return None
