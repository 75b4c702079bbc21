"""Layer-wise Optimal Brain Surgeon: prune a layer's weights and update the ones that stay.

For a layer computing y = W x, the loss of pruning is taken as its output error on calibration
inputs X, whose Hessian is H = 2 XᵀX. Removing weight w_q moves the row's other weights by
-w_q / [H⁻¹]_qq · H⁻¹[:, q] (Hassibi & Stork, 1993). Done column by column over the inverse
Hessian's Cholesky factor, in blocks whose masks are chosen by the OBS saliency
w² / [H⁻¹]_qq², this is SparseGPT (Frantar & Alistarh, 2023); all rows share one H, so a
layer costs one Cholesky factorisation. Needs calibration inputs only, no labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .criteria import lowest_mask, m_by_n_mask, spread, unstructured_mask, zero_count

BLOCK = 128  # columns pruned together (SparseGPT's default)


@dataclass(frozen=True)
class Reconstruction:
    """One layer's pruning: the new weights and the output error they leave, against the
    error of the same sparsity chosen by magnitude with no update."""

    weights: np.ndarray  # (rows, columns), zeros where pruned
    error: float  # ||X (W - W_new)ᵀ||² / ||X Wᵀ||²
    magnitude_error: float


def hessian(x: np.ndarray) -> np.ndarray:
    """2 XᵀX / n for inputs `x` of shape (n, columns), in float64."""
    x = np.asarray(x, np.float64)
    return 2.0 * x.T @ x / max(len(x), 1)


def prune(weights: np.ndarray, h: np.ndarray, sparsity: float, damping: float = 0.01,
          m_by_n: tuple[int, int] | None = None, block: int = BLOCK) -> Reconstruction:
    """Zero `sparsity` of `weights` (rows, columns) — or m of every n consecutive columns of
    each row — and update the rest to keep X Wᵀ where it was. `damping` is added to the
    diagonal of H as a share of its mean, so that H can be inverted."""
    if m_by_n is not None and block % m_by_n[1]:
        raise ValueError(f"blocks of {block} columns split groups of {m_by_n[1]}")
    w = np.array(weights, np.float64)
    measured = np.asarray(h, np.float64)
    h = measured.copy()
    dead = np.diag(h) == 0  # inputs that are always zero: their weights do nothing
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h[np.diag_indices_from(h)] += damping * np.mean(np.diag(h))
    factor = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: H⁻¹ = factorᵀ factor
    columns = w.shape[1]
    pruned = np.zeros_like(w)
    starts = range(0, columns, block)
    counts = spread(zero_count(w.size, sparsity),  # tfmot's count, over the blocks
                    [w.shape[0] * (min(s + block, columns) - s) for s in starts])
    for start, count in zip(starts, counts, strict=True):
        stop = min(start + block, columns)
        part, inverse = w[:, start:stop].copy(), factor[start:stop, start:stop]
        diagonal = np.diag(inverse)
        mask = ~lowest_mask(_saliency(part, diagonal), count) if m_by_n is None \
            else np.zeros(part.shape, bool)
        errors = np.zeros_like(part)
        for i in range(stop - start):
            if m_by_n is not None and i % m_by_n[1] == 0:
                group = slice(i, i + m_by_n[1])  # chosen once the columns before are updated
                mask[:, group] = ~m_by_n_mask(_saliency(part[:, group], diagonal[group]),
                                              m_by_n)
            column = part[:, i]
            kept = np.where(mask[:, i], 0.0, column)
            pruned[:, start + i] = kept
            error = (column - kept) / inverse[i, i]
            part[:, i:] -= np.outer(error, inverse[i, i:])
            errors[:, i] = error
        w[:, stop:] -= errors @ factor[start:stop, stop:]
    return Reconstruction(pruned.astype(np.float32), _error(weights, pruned, measured),
                          _error(weights, _magnitude(weights, sparsity, m_by_n), measured))


def _saliency(part: np.ndarray, diagonal: np.ndarray) -> np.ndarray:
    """w² / [H⁻¹]_qq²: the output error OBS predicts for removing each weight."""
    return part ** 2 / diagonal[None, :] ** 2


def _magnitude(weights: np.ndarray, sparsity: float,
               m_by_n: tuple[int, int] | None) -> np.ndarray:
    w = np.asarray(weights, np.float64)
    score = np.abs(w)
    return w * (unstructured_mask(score, sparsity) if m_by_n is None
                else m_by_n_mask(score, m_by_n))


def _error(weights: np.ndarray, pruned: np.ndarray, h: np.ndarray) -> float:
    """||X (W - W')ᵀ||² / ||X Wᵀ||², computed from H = 2XᵀX/n."""
    w = np.asarray(weights, np.float64)
    delta = w - pruned
    total = float(np.einsum("ij,jk,ik->", w, h, w))
    return float(np.einsum("ij,jk,ik->", delta, h, delta)) / total if total else 0.0
