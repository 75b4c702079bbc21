"""The Gauss-Newton diagonal of the loss Hessian, and Optimal Brain Damage saliency.

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

from .. import _compat
from .model import outputs_probabilities

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
