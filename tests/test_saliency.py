"""Optimal Brain Damage: the Hessian diagonal against cases where it is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge import _compat
from prune2edge.keras.criteria import channel_norms, criterion, unstructured_mask
from prune2edge.keras.hessian import gauss_newton_diagonal, obd_saliency

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 40)


def dense(units, activation=None, weights=None):
    keras = _compat.keras()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units,
                                                                     activation=activation)])
    if weights is not None:
        model.set_weights(weights)
    return model


def exact_hessian_diagonal(model, loss_fn):
    """The true Hessian diagonal of the mean loss, by differentiating the gradient again."""
    tf = _compat.tf()
    variables = model.trainable_weights
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            loss = loss_fn(model(X))
        gradients = inner.gradient(loss, variables)
    diagonals = []
    for variable, gradient in zip(variables, gradients, strict=True):
        size = int(np.prod(variable.shape))
        hessian = outer.jacobian(gradient, variable).numpy().reshape(size, size)
        diagonals.append(hessian.diagonal().reshape(variable.shape))
    return diagonals


def test_squared_error_of_a_linear_model_is_exactly_quadratic():
    """L = mean (w.x + b - t)^2 has Hessian 2 E[x x^T]: the diagonal is 2 E[x_i^2], 2."""
    kernel, bias = gauss_newton_diagonal(dense(1), X, batch_size=7, loss="squared_error")
    assert np.allclose(kernel.ravel(), 2 * np.mean(X ** 2, axis=0), rtol=1e-5)
    assert np.allclose(bias, 2.0)


def test_cross_entropy_of_softmax_regression_matches_the_true_hessian():
    """For logits linear in the weights the Gauss-Newton matrix is the Hessian itself."""
    tf = _compat.tf()
    weights = [RNG.normal(size=(4, 3)).astype(np.float32), RNG.normal(size=3).astype(np.float32)]
    model = dense(3, weights=weights)

    def loss(logits):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(Y, logits))

    for estimate, exact in zip(gauss_newton_diagonal(model, X, batch_size=16),
                               exact_hessian_diagonal(model, loss), strict=True):
        assert np.allclose(estimate, exact, atol=1e-6)


def test_probability_and_logit_outputs_give_the_same_diagonal():
    weights = [RNG.normal(size=(4, 3)).astype(np.float32), np.zeros(3, np.float32)]
    logits = gauss_newton_diagonal(dense(3, weights=weights), X)
    probabilities = gauss_newton_diagonal(dense(3, "softmax", weights=weights), X)
    for a, b in zip(logits, probabilities, strict=True):
        assert np.allclose(a, b, atol=1e-6)


def test_obd_keeps_a_large_weight_on_a_busy_input_over_one_on_a_dead_input():
    """Feature 0 is always 0, so its weight has no curvature: OBD removes it first even though
    it is the largest weight; magnitude pruning would keep it."""
    x = X.copy()
    x[:, 0] = 0.0
    kernel = np.array([[5.0], [0.5], [0.4], [0.3]], np.float32)
    model = dense(1, weights=[kernel, np.zeros(1, np.float32)])
    (saliency,) = criterion("obd").weight_scores(model, [model.layers[0].kernel], x)
    (magnitude,) = criterion("magnitude").weight_scores(model, [model.layers[0].kernel])
    assert saliency[0, 0] == 0.0 and magnitude[0, 0] == 5.0
    assert not unstructured_mask(saliency, 0.25)[0, 0]
    assert unstructured_mask(magnitude, 0.25)[0, 0]


def test_saliency_formula_and_masks():
    assert obd_saliency(np.array([2.0]), np.array([3.0]))[0] == 6.0
    mask = unstructured_mask(np.array([[4.0, 1.0], [3.0, 2.0]]), 0.5)
    assert mask.tolist() == [[True, False], [True, False]]


@pytest.mark.parametrize(("criterion", "expected"), [("l1", [3.0, 7.0]), ("l2", [np.sqrt(5),
                                                                              5.0])])
def test_channel_norms(criterion, expected):
    kernel = np.array([[1.0, 3.0], [-2.0, 4.0]])
    assert np.allclose(channel_norms(kernel, criterion), expected)
