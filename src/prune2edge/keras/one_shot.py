"""Pruning at once, before any fine-tuning: each chosen layer's lowest-ranked weights zeroed
by a criterion (magnitude, OBD), or pruned and reconstructed layer by layer (OBS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..progress import Task
from . import reconstruct
from .criteria import criterion, kernel_mask
from .model import prunable_weights


def prune_once(model: Any, layers: list[str], name: str, x: np.ndarray | None,
               sparsity: float, damping: float = 0.01,
               m_by_n: tuple[int, int] | None = None,
               task: Task | None = None) -> list[dict[str, Any]] | None:
    """Zero `sparsity` of the prunable weights of `layers` (or m of every n along their input
    axis) in place, ranked by criterion `name` on calibration samples `x`. For OBS, one row
    per layer says how much of its output error the reconstruction removed (`task` advances
    once per layer)."""
    if name == "obs":
        if x is None:
            raise ValueError("OBS needs calibration samples (x)")
        return reconstruct.prune_layers(model, layers, x, sparsity, damping, m_by_n, task)
    variables = [v for layer in map(model.get_layer, layers)
                 for v in prunable_weights(layer) or []]
    scores = criterion(name).weight_scores(model, variables, x)
    for variable, score in zip(variables, scores, strict=True):
        variable.assign(variable.numpy() * kernel_mask(score, sparsity, m_by_n))
    return None
