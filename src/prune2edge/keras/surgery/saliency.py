"""Optimal Brain Surgeon's saliency for whole channels: what removing a channel costs the
layers that read it, once their other weights have moved to make up for it.

A consumer (Dense, ungrouped Conv2D) multiplies its input patches X by W (outputs x inputs).
Removing the columns J that carry one channel, with the optimal update of the rest, leaves an
output error of tr(W_J (H⁻¹_JJ)⁻¹ W_Jᵀ) with H = XᵀX (Hassibi & Stork's group form; OBC,
Frantar & Alistarh, 2022). A group's channels are removed greedily, cheapest first, each
removal updating every consumer's W and H⁻¹ as OBS does, so that channels which duplicate
each other are not both judged cheap; a consumer's cost is taken as a share of its output
energy, summed over the consumers whose input layout carries the group. The score of a
channel is the total error when it goes, so later removals score higher. A group no consumer
reads falls back to its kernels' L2 norms."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...progress import Task
from ..criteria import channel_norms, output_weights
from ..obs import hessian
from ..reconstruct import input_patches, layer_inputs, supports
from .plan import Group, Plan

ROUNDS = 64  # greedy removals per group at most; wider layers remove channels in batches


@dataclass
class _Consumer:
    """One layer reading a group: its weights and inverse Hessian as removals update them,
    the columns that carry each of the group's channels, and its output energy."""

    w: np.ndarray  # (outputs, inputs)
    inverse: np.ndarray  # H⁻¹, (inputs, inputs)
    columns: np.ndarray  # (channels, columns per channel)
    energy: float

    def costs(self, alive: np.ndarray) -> np.ndarray:
        j = self.columns[alive]
        blocks = self.inverse[j[:, :, None], j[:, None, :]]
        part = np.moveaxis(self.w[:, j], 0, -1)  # (channels, columns, outputs)
        return np.einsum("kqr,kqr->k", part, np.linalg.solve(blocks, part)) / self.energy

    def remove(self, channels: np.ndarray) -> None:
        """Remove the channels together, moving the other weights as OBS does."""
        j = self.columns[channels].ravel()
        block = np.linalg.inv(self.inverse[np.ix_(j, j)])
        rows = self.inverse[j, :]
        self.w -= self.w[:, j] @ block @ rows
        self.inverse -= rows.T @ block @ rows
        self.w[:, j] = 0.0


def obs_channel_scores(plan: Plan, x: np.ndarray, damping: float, share: float = 1.0,
                       task: Task | None = None) -> dict[str, np.ndarray]:
    """A score per channel of every prunable group, by `Group.name` (lower goes first); each
    group's greedy removal runs until `share` of its channels are gone. `task` advances per
    group."""
    graph = plan.graph
    scores = {}
    inputs: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # Hessians, by consumer
    for group in plan.prunable:
        consumers = [c for layer in graph.layers
                     if (c := _consumer(plan, group, layer, x, damping, inputs)) is not None]
        if consumers:
            ranked = _greedy(consumers, group.width, math.ceil(share * group.width))
        else:
            ranked = channel_norms(output_weights(graph.layer(group.members[0]))[0].numpy(), "l2")
        scores[group.name] = ranked
        (task or Task()).advance(status=group.name)
    return scores


def _greedy(consumers: list[_Consumer], width: int, steps: int) -> np.ndarray:
    """Scores from greedy removal of `steps` channels, the cheapest `batch` at a time (one at
    a time up to ROUNDS steps; wide layers go in at most ROUNDS joint removals)."""
    scores = np.zeros(width)
    alive = np.ones(width, bool)
    steps = min(steps, width - 1)
    batch = max(1, math.ceil(steps / ROUNDS))
    total, removed = 0.0, 0
    while removed < steps:
        costs = np.sum([c.costs(alive) for c in consumers], axis=0)
        order = np.argsort(costs, kind="stable")[:min(batch, steps - removed)]
        channels = np.flatnonzero(alive)[order]
        for channel, cost in zip(channels, costs[order], strict=True):
            total += float(cost)
            scores[channel], alive[channel] = total, False
        for consumer in consumers:
            consumer.remove(channels)
        removed += len(channels)
    if alive.any():  # the rest: by their cost now, above every removal so far
        scores[alive] = total + np.sum([c.costs(alive) for c in consumers], axis=0) + 1e-12
    return scores


def _consumer(plan: Plan, group: Group, layer: Any, x: np.ndarray, damping: float,
              cache: dict[str, tuple[np.ndarray, np.ndarray]]) -> _Consumer | None:
    if not supports(layer):
        return None
    channels = [(s.source, k // s.repeat) for s in plan.layouts[plan.graph.inbound[layer.name][0]]
                for k in range(s.width)]
    kernel = layer.kernel.numpy()
    columns: list[list[int]] = [[] for _ in range(group.width)]
    for column in range(kernel.size // kernel.shape[-1]):
        source, index = channels[column % len(channels)]
        if source in group.members:
            columns[index].append(column)
    if not columns[0] or len({len(c) for c in columns}) > 1:
        return None
    if layer.name not in cache:
        cache[layer.name] = _hessian(layer, layer_inputs(plan.graph.model, layer, x), damping)
    h, dead = cache[layer.name]
    w = kernel.reshape(-1, kernel.shape[-1]).T.astype(np.float64)
    w[:, dead] = 0.0  # inputs that are always zero: their weights do nothing
    energy = float(np.einsum("ij,jk,ik->", w, h, w)) or 1.0
    return _Consumer(w, np.linalg.inv(h), np.array(columns), energy)


def _hessian(layer: Any, inputs: np.ndarray,
             damping: float) -> tuple[np.ndarray, np.ndarray]:
    """OBS's Hessian of the layer's input patches, normalised to a mean diagonal of 1 (dead
    inputs get 1), plus `damping` on the diagonal; and which inputs are dead."""
    h = hessian(input_patches(layer, inputs))
    dead = np.diag(h) == 0
    h /= float(np.mean(np.diag(h)[~dead])) if (~dead).any() else 1.0
    h[dead, dead] = 1.0
    h[np.diag_indices_from(h)] += damping
    return h, dead
