"""The least-squares fits of `refit`, per kind of weight: a kernel that multiplies input
patches (Dense, Conv2D), and a depthwise kernel whose channels are fit one by one. Each fit is
pulled towards the sliced weights by `damping` (a share of the inputs' mean energy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reconstruct import input_patches

CHUNK = 65536  # patch rows multiplied at once


def fit_matrix(layer: Any, old: Any, new_in: np.ndarray, old_in: np.ndarray,
               kept: np.ndarray | None, damping: float) -> tuple[float, float]:
    """Refit `layer`'s kernel (and bias) so its outputs on `new_in` match `old`'s kept
    outputs (`kept`, None: all) on `old_in`; the output error before and after."""
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


def fit_depthwise(layer: Any, old: Any, new_in: np.ndarray, old_in: np.ndarray,
                  inputs_kept: np.ndarray | None, damping: float) -> tuple[float, float]:
    """Each kept channel's window refit on its own: one small least-squares problem each."""
    kernel, old_kernel = _depthwise_kernel(layer), _depthwise_kernel(old)
    rows, cols, channels, multiplier = kernel.shape
    size = rows * cols
    xn = input_patches(layer, new_in).reshape(-1, size, channels)
    xo = input_patches(old, old_in).reshape(-1, size, old_kernel.shape[2])
    kept = np.arange(channels) if inputs_kept is None else inputs_kept
    xo = xo[:, :, kept]
    bias = layer.use_bias
    old_weights = old_kernel.numpy()[:, :, kept, :].reshape(size, channels, multiplier)
    old_bias = (old.bias.numpy() if old.use_bias
                else np.zeros(old_kernel.shape[2] * multiplier))
    target = np.concatenate([old_weights.transpose(1, 0, 2),
                             old_bias.reshape(-1, multiplier)[kept][:, None, :]], axis=1)
    start = kernel.numpy().reshape(size, channels, multiplier).transpose(1, 0, 2)
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
    kernel.assign(weights[:, :size].transpose(1, 0, 2).reshape(
        rows, cols, channels, multiplier))
    if bias:
        layer.bias.assign(weights[:, size].ravel())
    return (before / energy, after / energy) if energy else (0.0, 0.0)


def _depthwise_kernel(layer: Any) -> Any:
    """A depthwise convolution's kernel variable (tf_keras names it `depthwise_kernel`,
    Keras 3 `kernel`)."""
    return layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel


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
