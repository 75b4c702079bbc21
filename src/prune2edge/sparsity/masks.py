"""Magnitude masks by tfmot's rules, in NumPy: the same zeros for the same weights.

tfmot 0.8.1 (`pruning_impl.Pruning`, `pruning_utils`) keeps the k largest magnitudes, k =
max(round(size * (1 - sparsity)), 1) counted in float32, and every weight tied with the k-th;
block sparsity ranks 2-D weights by blocks pooled (AVG or MAX) over TensorFlow's SAME windows
and expands each block's verdict from the top-left corner; m-by-n keeps the n - m largest of
every n consecutive inputs (Dense) or input channels (Conv2D) of each output. Each function
here is that rule on a NumPy array; `tests/test_masks.py` compares them with tfmot's own.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Pooling = Literal["AVG", "MAX"]


def keep_count(size: int, sparsity: float) -> int:
    """How many of `size` weights a mask at `sparsity` keeps (tfmot's float32 arithmetic)."""
    kept = np.float32(size) * (np.float32(1.0) - np.float32(sparsity))
    return int(max(np.round(kept), 1))


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """1 where |w| is among the k largest (ties with the k-th kept), else 0; weights' dtype."""
    magnitudes = np.abs(weights)
    flat = magnitudes.ravel()
    k = keep_count(flat.size, sparsity)
    threshold = np.partition(flat, flat.size - k)[flat.size - k]
    return (magnitudes >= threshold).astype(weights.dtype)


def _same_windows(length: int, window: int) -> list[slice]:
    """TensorFlow's SAME pooling windows, stride = window: padding split before and after."""
    count = -(-length // window)
    before = max((count - 1) * window + window - length, 0) // 2
    starts = [i * window - before for i in range(count)]
    return [slice(max(s, 0), min(s + window, length)) for s in starts]


def _pool_rows(values: np.ndarray, window: int, pooling: Pooling) -> np.ndarray:
    """Pool each column over SAME row windows (AVG: over the real weights only)."""
    pooled = []
    for rows in _same_windows(values.shape[0], window):
        part = values[rows]
        pooled.append(part.max(axis=0) if pooling == "MAX"
                      else part.sum(axis=0, dtype=np.float32) / np.float32(len(part)))
    return np.stack(pooled)


def _pool(magnitudes: np.ndarray, block: tuple[int, int], pooling: Pooling) -> np.ndarray:
    """tfmot's `factorized_pool`: rows first, then columns."""
    rows = _pool_rows(magnitudes, block[0], pooling)
    return _pool_rows(rows.T, block[1], pooling).T


def block_mask(weights: np.ndarray, sparsity: float, block: tuple[int, int],
               pooling: Pooling = "AVG") -> np.ndarray:
    """The magnitude mask of 2-D `weights` ranked block by block (`block_size`)."""
    if tuple(block) == (1, 1):
        return magnitude_mask(weights, sparsity)
    if weights.ndim != 2:
        raise ValueError("block sparsity needs 2-D weights")
    pooled = _pool(np.abs(weights).astype(np.float32), block, pooling)
    verdict = magnitude_mask(pooled, sparsity)
    expanded = np.repeat(np.repeat(verdict, block[0], axis=0), block[1], axis=1)
    return expanded[: weights.shape[0], : weights.shape[1]].astype(weights.dtype)


def _rows_of_inputs(weights: np.ndarray) -> np.ndarray:
    """The weights as rows of input weights, tfmot's layout: Dense, one row per output;
    Conv2D, one per output and kernel position (the groups run along input channels)."""
    if weights.ndim == 2:
        return weights.T
    if weights.ndim == 4:
        return np.transpose(weights, (3, 0, 1, 2)).reshape(-1, weights.shape[2])
    raise ValueError(f"m-by-n sparsity needs 2-D or 4-D weights, not {weights.ndim}-D")


def m_by_n_mask(weights: np.ndarray, m: int, n: int) -> np.ndarray:
    """Zero the m smallest of every n consecutive input weights (input channels in Conv2D)."""
    rows = np.abs(_rows_of_inputs(weights))
    width = rows.shape[1]
    padded = np.pad(rows, ((0, 0), (0, -width % n)))
    groups = padded.reshape(-1, n)
    kept = np.argsort(-groups, axis=1, kind="stable")[:, : n - m]  # ties: the first wins
    mask = np.zeros_like(groups, dtype=weights.dtype)
    np.put_along_axis(mask, kept, 1, axis=1)
    mask = mask.reshape(padded.shape)[:, :width]
    if weights.ndim == 2:
        return np.ascontiguousarray(mask.T)
    height, kwidth, channels, outputs = weights.shape
    return np.ascontiguousarray(
        np.transpose(mask.reshape(outputs, height, kwidth, channels), (1, 2, 3, 0)))
