"""Least-squares reconstruction after structural pruning (He et al., 2017; ThiNet, Luo et al.,
2017): layer by layer in order, each Dense, Conv2D and DepthwiseConv2D layer of the smaller
model whose inputs changed is refit so that its output before the activation, on calibration
samples as the smaller model sees them, matches the original layer's at the channels it kept.
The fit is pulled towards the sliced weights by `damping` (a share of the inputs' mean
energy), so that a few samples cannot make it wild. Needs calibration inputs only."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...progress import Task
from ..graph import Graph
from ..reconstruct import input_patches, layer_inputs, supports
from .rebuild import slice_layers

CHUNK = 65536  # patch rows multiplied at once


def refit(graph: Graph, keep: dict[str, np.ndarray], pruned: Any, x: np.ndarray,
          damping: float, task: Task | None = None) -> list[dict[str, Any]]:
    """Refit `pruned` (rebuilt from `graph` with `keep`) in place; one row per refit layer
    with its output error (a share of the original output's energy) before and after.
    `task` advances once per layer that could be refit (`refittable` counts them)."""
    original = graph.model
    slices = slice_layers(graph, keep)
    rows = []
    for layer in filter(_refits, pruned.layers):
        (task or Task()).advance(status=layer.name)
        old = original.get_layer(layer.name)
        new_in, old_in = layer_inputs(pruned, layer, x), layer_inputs(original, old, x)
        if new_in.shape == old_in.shape and np.array_equal(new_in, old_in):
            continue  # nothing upstream changed
        if supports(layer):
            before, after = _fit_matrix(layer, old, new_in, old_in, slices[layer.name].channels,
                                        damping)
        else:
            inbound = graph.inbound[layer.name][0]
            before, after = _fit_depthwise(layer, old, new_in, old_in,
                                           slices[inbound].channels, damping)
        rows.append({"layer": layer.name, "output_error_before": before,
                     "output_error_after": after})
    return rows


def refittable(model: Any) -> int:
    """How many layers of `model` `refit` may refit."""
    return sum(map(_refits, model.layers))


def _refits(layer: Any) -> bool:
    return supports(layer) or type(layer).__name__ == "DepthwiseConv2D"


def _fit_matrix(layer: Any, old: Any, new_in: np.ndarray, old_in: np.ndarray,
                kept: np.ndarray | None, damping: float) -> tuple[float, float]:
    bias = layer.use_bias
    xn = input_patches(layer, new_in)
    xo = input_patches(old, old_in)
    target = _weights(old, bias=True)  # (inputs + 1, outputs): the old layer, with its bias
    target = target if kept is None else target[:, kept]
    start = _weights(layer, bias)
    g, c, o = _grams(xn, xo, bias)
    fitted = _solve(g, c @ target, start, damping)
    errors = [_error(w, g, c, o, target) for w in (start, fitted)]
    kernel = layer.kernel.numpy()
    layer.kernel.assign(fitted[:kernel.size // kernel.shape[-1]].reshape(kernel.shape))
    if bias:
        layer.bias.assign(fitted[-1])
    return errors[0], errors[1]


def _fit_depthwise(layer: Any, old: Any, new_in: np.ndarray, old_in: np.ndarray,
                   inputs_kept: np.ndarray | None, damping: float) -> tuple[float, float]:
    """Each kept channel's window refit on its own: one small least-squares problem each."""
    rows, cols, channels, multiplier = layer.depthwise_kernel.shape
    size = rows * cols
    xn = input_patches(layer, new_in).reshape(-1, size, channels)
    xo = input_patches(old, old_in).reshape(-1, size, old.depthwise_kernel.shape[2])
    kept = np.arange(channels) if inputs_kept is None else inputs_kept
    xo = xo[:, :, kept]
    bias = layer.use_bias
    old_kernel = old.depthwise_kernel.numpy()[:, :, kept, :].reshape(size, channels, multiplier)
    old_bias = (old.bias.numpy() if old.use_bias
                else np.zeros(old.depthwise_kernel.shape[2] * multiplier))
    target = np.concatenate([old_kernel.transpose(1, 0, 2),
                             old_bias.reshape(-1, multiplier)[kept][:, None, :]], axis=1)
    start = layer.depthwise_kernel.numpy().reshape(size, channels, multiplier).transpose(1, 0, 2)
    if bias:
        start = np.concatenate([start, layer.bias.numpy().reshape(channels, 1, multiplier)], 1)
    grams = [_grams(xn[:, :, c], xo[:, :, c], bias) for c in range(channels)]
    fitted, before, after, energy = [], 0.0, 0.0, 0.0
    for (g, c, o), t, w0 in zip(grams, target, start, strict=True):
        w = _solve(g, c @ t, w0, damping)
        fitted.append(w)
        total = float(np.einsum("ij,jk,ik->", t.T, o, t.T))
        energy += total
        before += _error(w0, g, c, o, t) * total
        after += _error(w, g, c, o, t) * total
    weights = np.stack(fitted)  # (channels, size [+ 1], multiplier)
    layer.depthwise_kernel.assign(weights[:, :size].transpose(1, 0, 2).reshape(
        rows, cols, channels, multiplier))
    if bias:
        layer.bias.assign(weights[:, size].ravel())
    return (before / energy, after / energy) if energy else (0.0, 0.0)


def _weights(layer: Any, bias: bool) -> np.ndarray:
    """The kernel as (inputs, outputs), with the bias (zeros if it has none) as a last row."""
    kernel = layer.kernel.numpy()
    matrix = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
    if not bias:
        return matrix
    row = layer.bias.numpy() if layer.use_bias else np.zeros(kernel.shape[-1])
    return np.vstack([matrix, row[None, :]])


def _grams(xn: np.ndarray, xo: np.ndarray,
           bias: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """XnᵀXn, XnᵀXo and XoᵀXo over all rows, in float64; the old inputs always with a column
    of ones (the old bias), the new ones only when the layer has a bias to fit."""
    g = c = o = 0.0
    for start in range(0, len(xn), CHUNK):
        a = _ones(xn[start:start + CHUNK], bias)
        b = _ones(xo[start:start + CHUNK], True)
        g, c, o = g + a.T @ a, c + a.T @ b, o + b.T @ b
    return g, c, o  # type: ignore[return-value]


def _ones(x: np.ndarray, bias: bool) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.hstack([x, np.ones((len(x), 1))]) if bias else x


def _solve(g: np.ndarray, b: np.ndarray, start: np.ndarray, damping: float) -> np.ndarray:
    """argmin ||Xn W - Xo W_old||² + λ||W - start||², λ = damping x mean diag(XnᵀXn)."""
    lam = damping * float(np.mean(np.diag(g))) or damping
    return np.linalg.solve(g + lam * np.eye(len(g)), b + lam * start)


def _error(w: np.ndarray, g: np.ndarray, c: np.ndarray, o: np.ndarray,
           target: np.ndarray) -> float:
    """||Xn W - Xo T||² / ||Xo T||², from the Gram matrices."""
    total = float(np.einsum("ij,jk,ik->", target.T, o, target.T))
    error = (float(np.einsum("ij,jk,ik->", w.T, g, w.T))
             - 2 * float(np.einsum("ij,jk,ki->", w.T, c, target)) + total)
    return max(error, 0.0) / total if total else 0.0
