"""Structural pruning with reconstruction: OBS's channel saliency and the least-squares refit,
exact where the answer is known, and a pipeline that needs calibration samples only."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import Pipeline, _compat
from prune2edge.errors import RecipeError
from prune2edge.keras.surgery import obs_channel_scores, plan, rebuild, refit, select
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages import Convert, Prune, Quantize, Strip, Structural, Train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(256, 6)).astype(np.float32)


@pytest.fixture(autouse=True)
def fresh_layer_names():
    _compat.keras().backend.clear_session()


def linear_pair(duplicate: bool = False):
    """Input(6) -> Dense(5, 'a') -> Dense(3, 'b'), linear. With `duplicate`, units 0 and 1
    of 'a' are the same, with five times the weights of the others: removing either costs
    nothing once 'b' moves its weight onto the other, but L1 would keep both longest."""
    keras = _compat.keras()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="a"),
                              keras.layers.Dense(3, name="b")])
    if duplicate:
        kernel, bias = model.get_layer("a").get_weights()
        kernel[:, 1] *= 5
        kernel[:, 0], bias[0] = kernel[:, 1], bias[1]
        model.get_layer("a").set_weights([kernel, bias])
    return model


def test_the_refit_is_the_exact_least_squares_fit():
    model = linear_pair()
    result = plan(model)
    keep = {"a": np.array([0, 2, 4])}
    smaller = rebuild(result.graph, keep)
    rows = refit(result.graph, keep, smaller, X, damping=1e-12)
    assert [r["layer"] for r in rows] == ["b"]  # 'a' sees the same inputs as before
    hidden = model.get_layer("a")(X).numpy()[:, keep["a"]]
    ones = np.hstack([hidden, np.ones((len(X), 1))])
    exact, *_ = np.linalg.lstsq(ones, model(X).numpy(), rcond=None)
    kernel, bias = smaller.get_layer("b").get_weights()
    assert np.allclose(kernel, exact[:-1], atol=1e-4) and np.allclose(bias, exact[-1], atol=1e-4)
    assert rows[0]["output_error_after"] < rows[0]["output_error_before"]


def test_removing_nothing_refits_nothing():
    model = linear_pair()
    result = plan(model)
    smaller = rebuild(result.graph, {})
    assert refit(result.graph, {}, smaller, X, damping=0.01) == []
    assert np.array_equal(smaller(X).numpy(), model(X).numpy())


def test_obs_removes_a_duplicate_channel_and_the_refit_makes_it_exact():
    model = linear_pair(duplicate=True)
    result = plan(model)
    scores = obs_channel_scores(result, X, damping=1e-9)
    keep = select(result, scores, {"*": 0.2}, 1, "uniform")
    assert len({0, 1} & set(keep["a"])) == 1  # one of the pair went
    l1 = np.abs(model.get_layer("a").get_weights()[0]).sum(axis=0)
    assert set(np.argsort(l1)[-2:]) == {0, 1}  # the two L1 would keep longest
    smaller = rebuild(result.graph, keep)
    refit(result.graph, keep, smaller, X, damping=1e-9)
    assert np.allclose(smaller(X).numpy(), model(X).numpy(), atol=1e-3)


@pytest.mark.slow
def test_structural_obs_with_depthwise_refit(make_ctx):
    ctx = run_stages(make_ctx("mobile"), Train(epochs=1))
    out = run_stages(ctx, Structural(criterion="obs", ratio=0.5, calibration_samples=64))
    rows = {r["layer"]: r for r in out.result.reconstruction}
    assert set(rows) == {"depthwise_conv2d", "conv2d_1", "dense"}
    # the depthwise layer's kept channels see the inputs they saw: nothing to make up for
    assert rows["depthwise_conv2d"]["output_error_before"] < 1e-12  # zero up to rounding
    assert rows["depthwise_conv2d"]["output_error_after"] < 1e-9
    assert all(rows[name]["output_error_after"] < rows[name]["output_error_before"]
               for name in ("conv2d_1", "dense"))


@pytest.mark.slow
def test_l1_with_reconstruct_is_better_than_without(make_ctx):
    ctx = run_stages(make_ctx("cnn"), Train(epochs=1))
    plain = run_stages(ctx, Structural(ratio=0.75)).result
    refit_ = run_stages(ctx, Structural(ratio=0.75, reconstruct=True,
                                        calibration_samples=64)).result
    assert "reconstruction" not in plain.to_dict()
    assert refit_.test_accuracy_before_reconstruction == plain.test_accuracy_before_finetune
    assert refit_.test_accuracy_before_finetune > plain.test_accuracy_before_finetune


@pytest.mark.slow
def test_a_calibration_only_pipeline_is_valid_and_builds(make_ctx):
    ctx = run_stages(make_ctx("cnn"), Train(epochs=1))  # the trained model a user holds
    stages = (Structural(criterion="obs", ratio=0.5, calibration_samples=64),
              Prune(criterion="obs", schedule=ConstantSparsity(target_sparsity=0.5),
                    calibration_samples=64),
              Strip(), Quantize(samples=20), Convert(sparse="off"))
    Pipeline(list(stages))  # valid without a training stage
    out = run_stages(ctx, *stages)
    assert out.tflite["final"].is_file()


def test_damping_must_be_positive():
    with pytest.raises(RecipeError, match="damping must be in"):
        Structural(criterion="obs", damping=0.0)
