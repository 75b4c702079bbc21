"""Optimal Brain Surgeon, layer by layer: exact where the answer is known, N:M when asked,
and in the prune stage with calibration samples only (no fine-tune needed before strip)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import Pipeline, Strip
from prune2edge.errors import RecipeError
from prune2edge.keras import obs
from prune2edge.keras.criteria import m_by_n_mask, zero_count
from prune2edge.keras.model import weight_sparsity
from prune2edge.sparsity.schedules import ConstantSparsity, PolynomialDecay
from prune2edge.stages import Convert, FineTune, Prune, Quantize, Train, Validate

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
    result = obs.prune(W, obs.hessian(X), 0.5, m_by_n=(2, 4))
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


@pytest.mark.slow
def test_prune_stage_with_obs_then_straight_to_int8(make_ctx):
    ctx = run_stages(make_ctx("cnn"), Train(epochs=1))
    one_shot = Prune(schedule=ConstantSparsity(target_sparsity=0.7), criterion="obs",
                     calibration_samples=64)
    magnitude = Prune(schedule=ConstantSparsity(target_sparsity=0.7))
    Pipeline([one_shot, Strip(), Quantize(samples=20), Convert(sparse="off"),
              Validate(runs=2, warmup=0, memory=False, min_agreement=0.5)])  # order is valid
    out = run_stages(ctx, one_shot, Strip(), Quantize(samples=20), Convert(sparse="off"))
    pruned = run_stages(ctx, one_shot).result
    rows = {r["layer"]: r for r in pruned.reconstruction}
    assert set(rows) == {"conv2d", "dense", "dense_1"}
    assert all(r["output_error"] < r["magnitude_output_error"] for r in rows.values())
    sparsity = {r["layer"]: r["sparsity"] for r in weight_sparsity(out.model)["layers"]}
    assert all(sparsity[name] == pytest.approx(0.7, abs=0.01) for name in rows)
    before = run_stages(ctx, magnitude).result.test_accuracy_before_finetune
    assert pruned.test_accuracy_before_finetune >= before
    assert out.tflite["final"].is_file()


def test_obs_parameters():
    with pytest.raises(RecipeError, match="criterion obs prunes once"):
        Prune(criterion="obs", schedule=PolynomialDecay(final_sparsity=0.5))
    with pytest.raises(RecipeError, match="damping must be in"):
        Prune(criterion="obs", schedule=ConstantSparsity(), damping=0.0)
    with pytest.raises(RecipeError, match="strip needs fine-tuning"):
        Pipeline([Prune(schedule=ConstantSparsity()), Strip()])  # magnitude still needs it


def _kernels(model) -> dict[str, np.ndarray]:
    return {layer.name: (layer.depthwise_kernel if hasattr(layer, "depthwise_kernel")
                         else layer.kernel).numpy()
            for layer in model.layers if hasattr(layer, "kernel")
            or hasattr(layer, "depthwise_kernel")}


@pytest.mark.slow
def test_tfmot_holds_obs_zeros_through_fine_tuning(make_ctx):
    """OBS zeroes exactly as many weights as tfmot's mask does (one more and tfmot's
    threshold would be 0, unmasking them all); depthwise kernels tfmot does not prune."""
    ctx = run_stages(make_ctx("mobile"), Train(epochs=1))
    prune = Prune(schedule=ConstantSparsity(target_sparsity=0.7), criterion="obs",
                  calibration_samples=32)
    pruned = run_stages(ctx, prune)
    dense = {d["layer"]: d["reason"] for d in pruned.result.dense_layers}
    assert "tfmot prunes no weights of DepthwiseConv2D" in dense["depthwise_conv2d"]
    zeros = {name: kernel == 0 for name, kernel in _kernels(
        run_stages(pruned, Strip()).model).items()}
    out = run_stages(pruned, FineTune(epochs=1), Strip())
    for name in pruned.result.pruned_layers:
        kernel = _kernels(out.model)[name]
        assert (kernel == 0).sum() == zero_count(kernel.size, 0.7), name
        assert np.array_equal(kernel == 0, zeros[name]), name


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["magnitude", "obs"])
def test_m_by_n_pattern_survives_fine_tuning(make_ctx, criterion):
    ctx = run_stages(make_ctx("mobile"), Train(epochs=1))
    prune = Prune(schedule=ConstantSparsity(target_sparsity=0.5), criterion=criterion,
                  sparsity_m_by_n=(2, 4), calibration_samples=32)
    pruned = run_stages(ctx, prune)
    dense = {d["layer"]: d["reason"] for d in pruned.result.dense_layers}
    assert "do not divide into groups of 4" in dense["conv2d"]
    assert "tfmot prunes no weights" in dense["depthwise_conv2d"]
    assert pruned.result.pruned_layers == ["conv2d_1", "dense"]
    out = run_stages(pruned, FineTune(epochs=1), Strip())
    for name in ("conv2d_1", "dense"):
        kernel = np.moveaxis(_kernels(out.model)[name], -2, -1)  # inputs last, as tfmot
        zeros = (kernel.reshape(-1, 4) == 0).sum(axis=1)
        assert (zeros == 2).all(), name


def test_m_by_n_parameters():
    with pytest.raises(RecipeError, match="0 < m < n"):
        Prune(schedule=ConstantSparsity(target_sparsity=0.5), sparsity_m_by_n=(4, 4))
    with pytest.raises(RecipeError, match=r"to 0\.5 sparsity"):
        Prune(schedule=ConstantSparsity(target_sparsity=0.8), sparsity_m_by_n=(2, 4))
    with pytest.raises(RecipeError, match="sets the masks once"):
        Prune(schedule=PolynomialDecay(final_sparsity=0.5), sparsity_m_by_n=(2, 4))
    with pytest.raises(RecipeError, match="exclude each other"):
        Prune(schedule=ConstantSparsity(target_sparsity=0.5), sparsity_m_by_n=(2, 4),
              block_size=(1, 4))


def test_mask_counts_match_tfmot():
    for size in (9, 10, 288, 1001):
        for sparsity in (0.05, 0.5, 0.7, 0.95):
            kept = round(float(np.float32(size) * (np.float32(1) - np.float32(sparsity))))
            assert zero_count(size, sparsity) == size - max(kept, 1)
    score = RNG.normal(size=(3, 8))
    mask = m_by_n_mask(score, (1, 4))
    assert (mask.reshape(3, 2, 4).sum(axis=-1) == 3).all()
    assert not mask[np.arange(3)[:, None], np.argsort(score[:, :4], axis=1)[:, :1]].any()
