"""Optimal Brain Surgeon, layer by layer: exact where the answer is known, N:M when asked,
and in the prune stage with calibration samples only (no fine-tune needed before strip)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import Pipeline, Strip
from prune2edge.errors import RecipeError
from prune2edge.keras import obs
from prune2edge.keras.model import weight_sparsity
from prune2edge.keras.schedules import ConstantSparsity, PolynomialDecay
from prune2edge.stages import Convert, Prune, Quantize, Train, Validate

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 12))
W = RNG.normal(size=(5, 12))


def test_removing_nothing_changes_nothing():
    result = obs.prune(W, obs.hessian(X), 0.0, damping=1e-8)
    assert np.allclose(result.weights, W, atol=1e-6) and result.error == 0.0


def test_the_update_is_the_exact_least_squares_refit():
    weights = W.copy()
    weights[:, :3] *= 1e-3  # these go first, so the rest is refit on the kept support
    result = obs.prune(weights, obs.hessian(X), 0.25, damping=1e-12)
    assert (result.weights[:, :3] == 0).all() and (result.weights[:, 3:] != 0).all()
    refit, *_ = np.linalg.lstsq(X[:, 3:], X @ weights.T, rcond=None)
    assert np.allclose(result.weights[:, 3:], refit.T, atol=1e-5)


def test_n_of_m_masks_and_less_error_than_magnitude():
    result = obs.prune(W, obs.hessian(X), 0.5, n_of_m=(2, 4))
    zeros = (result.weights.reshape(5, -1, 4) == 0).sum(axis=-1)
    assert (zeros == 2).all()
    assert result.error < result.magnitude_error
    unstructured = obs.prune(W, obs.hessian(X), 0.75)
    assert np.mean(unstructured.weights == 0) == 0.75
    assert unstructured.error < unstructured.magnitude_error


def test_a_dead_input_loses_its_weights_and_nothing_breaks():
    x = X.copy()
    x[:, 4] = 0.0
    result = obs.prune(W, obs.hessian(x), 0.5)
    assert (result.weights[:, 4] == 0).all() and np.isfinite(result.weights).all()


def test_prune_stage_with_obs_then_straight_to_int8(make_ctx):
    ctx = run_stages(make_ctx("cnn"), Train(epochs=1))
    one_shot = Prune(schedule=ConstantSparsity(target_sparsity=0.7), criterion="obs",
                     hessian_samples=64)
    magnitude = Prune(schedule=ConstantSparsity(target_sparsity=0.7))
    Pipeline([one_shot, Strip(), Quantize(samples=20), Convert(sparse="off"),
              Validate(runs=2, warmup=0, memory=False, min_agreement=0.5)])  # order is valid
    out = run_stages(ctx, one_shot, Strip(), Quantize(samples=20), Convert(sparse="off"))
    pruned = run_stages(ctx, one_shot).outputs
    rows = {r["layer"]: r for r in pruned["reconstruction"]}
    assert set(rows) == {"conv2d", "dense", "dense_1"}
    assert all(r["output_error"] < r["magnitude_output_error"] for r in rows.values())
    sparsity = {r["layer"]: r["sparsity"] for r in weight_sparsity(out.model)["layers"]}
    assert all(sparsity[name] == pytest.approx(0.7, abs=0.01) for name in rows)
    before = run_stages(ctx, magnitude).outputs["test_accuracy_before_finetune"]
    assert pruned["test_accuracy_before_finetune"] >= before
    assert out.tflite["final"].is_file()


def test_obs_parameters():
    with pytest.raises(RecipeError, match="criterion obs prunes once"):
        Prune(criterion="obs", schedule=PolynomialDecay(final_sparsity=0.5))
    with pytest.raises(RecipeError, match="damping must be in"):
        Prune(criterion="obs", schedule=ConstantSparsity(), damping=0.0)
    with pytest.raises(RecipeError, match="strip needs fine-tuning"):
        Pipeline([Prune(schedule=ConstantSparsity()), Strip()])  # magnitude still needs it
