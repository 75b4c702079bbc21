"""Importance of weights and of whole units/filters: L1 and L2 norms, and Optimal Brain Damage.

Optimal Brain Damage (LeCun, Denker & Solla, 1990) ranks a weight by the loss increase its
removal causes under a diagonal quadratic model of the loss: saliency = 1/2 * h_ii * w_i^2.
The diagonal h_ii here is that of the Gauss-Newton matrix J^T H_out J, computed exactly per
sample (no sampling) and averaged over training samples. For softmax cross-entropy H_out =
diag(p) - p p^T, so the diagonal is sum_k p_k (d log p_k / dw)^2; for a squared error it is
2 (d f / dw)^2. For models linear in their weights the Gauss-Newton matrix is the Hessian
itself, and it is the Hessian's positive semi-definite part otherwise (Martens, 2020).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from . import _compat
from .keras_model import outputs_probabilities

Loss = Literal["cross_entropy", "squared_error"]


def gauss_newton_diagonal(model: Any, x: np.ndarray, weights: list[Any] | None = None,
                          batch_size: int = 16,
                          loss: Loss = "cross_entropy") -> list[np.ndarray]:
    """The Gauss-Newton diagonal for each of `weights` (default: all trainable weights),
    averaged over the samples in `x`."""
    tf = _compat.tf()
    weights = list(weights if weights is not None else model.trainable_weights)
    totals = [np.zeros(w.shape, np.float64) for w in weights]
    probabilities = outputs_probabilities(model)
    for start in range(0, len(x), batch_size):
        batch = tf.constant(x[start:start + batch_size], tf.float32)
        with tf.GradientTape() as tape:
            out = model(batch, training=False)
            if loss == "cross_entropy":
                out = (tf.math.log(tf.clip_by_value(out, 1e-12, 1.0)) if probabilities
                       else tf.nn.log_softmax(out))
        jacobians = tape.jacobian(out, weights, experimental_use_pfor=True)  # (B, K, *w)
        # cross-entropy weighs class k's squared gradient by p_k; a squared error by 2
        factor = tf.exp(out) if loss == "cross_entropy" else tf.fill(tf.shape(out), 2.0)
        for total, jacobian in zip(totals, jacobians, strict=True):
            scale = tf.reshape(factor, [*factor.shape, *([1] * (jacobian.shape.rank - 2))])
            total += tf.reduce_sum(scale * tf.square(jacobian), axis=[0, 1]).numpy()
    return [(total / len(x)).astype(np.float32) for total in totals]


def obd_saliency(weight: np.ndarray, hessian_diagonal: np.ndarray) -> np.ndarray:
    """1/2 * h_ii * w_i^2: the loss increase OBD predicts for zeroing each weight."""
    return 0.5 * hessian_diagonal * np.square(weight)


def channel_scores(kernel: np.ndarray, criterion: str) -> np.ndarray:
    """The L1 or L2 norm of each output channel (last axis) of a kernel."""
    flat = kernel.reshape(-1, kernel.shape[-1])
    if criterion == "l1":
        return np.abs(flat).sum(axis=0)
    return np.sqrt(np.square(flat).sum(axis=0))


def weight_scores(model: Any, variables: list[Any], criterion: str,
                  x: np.ndarray | None = None) -> list[np.ndarray]:
    """A score per weight of each variable: |w| for magnitude, or the OBD saliency."""
    if criterion == "magnitude":
        return [np.abs(v.numpy()) for v in variables]
    diagonals = gauss_newton_diagonal(model, x, weights=variables)
    return [obd_saliency(v.numpy(), h) for v, h in zip(variables, diagonals, strict=True)]


def unstructured_mask(score: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep all but the `sparsity` share of weights with the lowest scores."""
    flat = score.ravel()
    mask = np.ones(flat.size, bool)
    mask[np.argsort(flat, kind="stable")[: round(sparsity * flat.size)]] = False
    return mask.reshape(score.shape)


def producer_scores(model: Any, layers: list[str], criterion: str,
                    x: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A score per output channel (unit/filter) of each named layer. For OBD it is the summed
    saliency of the channel's incoming weights and bias: what removing the channel deletes
    from the layer."""
    if criterion in ("l1", "l2"):
        return {name: channel_scores(model.get_layer(name).get_weights()[0], criterion)
                for name in layers}
    variables = [v for name in layers for v in model.get_layer(name).trainable_weights]
    diagonals = dict(zip([id(v) for v in variables],
                         gauss_newton_diagonal(model, x, weights=variables), strict=True))
    scores = {}
    for name in layers:
        total = 0.0
        for variable in model.get_layer(name).trainable_weights:
            saliency = obd_saliency(variable.numpy(), diagonals[id(variable)])
            total = total + saliency.reshape(-1, saliency.shape[-1]).sum(axis=0)
        scores[name] = total
    return scores
