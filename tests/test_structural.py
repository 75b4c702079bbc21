"""Structural pruning: smaller dense shapes that compute what the kept channels computed."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import _compat
from prune2edge.errors import ModelError, RecipeError
from prune2edge.inspect import inspect
from prune2edge.keras.surgery import group_scores, plan, rebuild, select
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages import Convert, FineTune, Prune, Strip, Structural, Train, Validate
from test_models import functional_cnn

X = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)


@pytest.fixture(autouse=True)
def fresh_layer_names():
    """Layer names come from Keras' session counters: start each test from the same ones."""
    _compat.keras().backend.clear_session()


def cnn_with_dead_filters():
    """Conv(8) -> ReLU -> pool -> Conv(6) -> ReLU -> Flatten -> Dense(12) -> Dense(10), where
    filters 1, 4, 6 of the first conv, 0 and 5 of the second and units 3, 7 of the dense
    layer are dead (zero weights and bias), so removing them changes no output."""
    keras = _compat.keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(6, 3, strides=2, activation="relu"), layers.Flatten(),
        layers.Dense(12, activation="relu"), layers.Dense(10)])
    for index, dead in ((0, [1, 4, 6]), (2, [0, 5]), (4, [3, 7])):
        layer = model.layers[index]
        kernel, bias = layer.get_weights()
        kernel[..., dead] = 0.0
        bias[dead] = 0.0
        layer.set_weights([kernel, bias])
    return model


def test_nothing_removed_rebuilds_the_same_function():
    model = functional_cnn()
    same = rebuild(plan(model).graph, {})
    assert np.array_equal(same(X).numpy(), model(X).numpy())


def test_removing_dead_channels_keeps_every_output():
    """Exercises the kernel slicing of both convs, Flatten's position-by-position mapping and
    the Dense rows that follow."""
    model = cnn_with_dead_filters()
    result = plan(model)
    scores = {name: np.abs(result.graph.layer(name).get_weights()[0]).reshape(
        -1, result.graph.layer(name).output_shape[-1]).sum(axis=0)
        for g in result.prunable for name in g.members}
    keep = select(result, group_scores(result, scores),
                  {"conv2d": 3 / 8, "conv2d_1": 2 / 6, "dense": 2 / 12, "*": 0}, 1, "uniform")
    assert keep["conv2d"].tolist() == [0, 2, 3, 5, 7]
    assert keep["conv2d_1"].tolist() == [1, 2, 3, 4] and len(keep["dense"]) == 10
    smaller = rebuild(result.graph, keep)
    assert [layer.output_shape[-1] for layer in smaller.layers if layer.weights] == [5, 4, 10, 10]
    assert np.allclose(smaller(X).numpy(), model(X).numpy(), atol=1e-5)


def test_batch_norm_and_depthwise_weights_follow_their_channels():
    model = functional_cnn()
    result = plan(model)
    keep = {"conv2d": np.array([0, 2, 5, 7]), "conv2d_1": np.array([1, 3])}
    smaller = rebuild(result.graph, keep)
    for name in ("batch_normalization", "batch_normalization_1"):
        for old, new in zip(model.get_layer(name).get_weights(),
                            smaller.get_layer(name).get_weights(), strict=True):
            assert np.array_equal(new, old[[0, 2, 5, 7]])
    depthwise_old = model.get_layer("depthwise_conv2d").get_weights()[0]
    assert np.array_equal(smaller.get_layer("depthwise_conv2d").get_weights()[0],
                          depthwise_old[:, :, [0, 2, 5, 7]])
    # the concatenation carries 4 kept + 2 kept channels into the pooled Flatten -> Dense
    assert smaller.get_layer("concatenate").output_shape[-1] == 6
    assert smaller(X).shape == (8, 10)


def residual_model():
    keras = _compat.keras()
    layers = keras.layers
    inputs = keras.Input((8, 8, 2))
    a = layers.Conv2D(6, 3, padding="same", name="stem")(inputs)
    b = layers.Conv2D(6, 3, padding="same", activation="relu", name="branch")(a)
    x = layers.Add(name="add")([a, b])
    x = layers.Conv2D(4, 1, name="mix")(x)
    y = layers.Reshape((8 * 8 * 4,), name="reshape")(x)
    return keras.Model(inputs, layers.Dense(3, name="head")(y))


def test_residual_groups_and_stated_reasons():
    result = plan(residual_model())
    groups = {tuple(sorted(g.members)): g for g in result.groups}
    assert groups[("branch", "stem")].prunable  # tied by the Add: they lose the same channels
    assert groups[("mix",)].reasons == ["its channels reach a Reshape layer ('reshape')"]
    assert groups[("head",)].reasons == ["its units are the model's outputs"]
    scores = {"stem": np.arange(6.0), "branch": np.arange(6.0)[::-1] * 0.1}
    keep = select(result, group_scores(result, scores), {"*": 0.5}, 1, "uniform")
    assert np.array_equal(keep["stem"], keep["branch"]) and len(keep["stem"]) == 3
    smaller = rebuild(result.graph, keep)
    assert smaller.get_layer("add").output_shape[-1] == 3
    x = np.random.default_rng(1).random((2, 8, 8, 2)).astype(np.float32)
    assert smaller(x).shape == (2, 3)


def test_min_width_global_allocation_and_exclusions():
    result = plan(cnn_with_dead_filters(), exclude=("dense",))
    assert [g.members for g in result.prunable] == [["conv2d"], ["conv2d_1"]]
    scores = {"conv2d": np.arange(8.0), "conv2d_1": np.arange(6.0) * 10}  # one member each
    keep = select(result, scores, {"*": 0.9}, 3, "uniform")
    assert [len(keep["conv2d"]), len(keep["conv2d_1"])] == [3, 3]
    everything = select(result, scores, {"*": 0.5}, 1, "global")
    assert len(everything["conv2d"]) + len(everything["conv2d_1"]) == 7  # 14 channels, 7 kept


@pytest.mark.slow
def test_stage_reports_widths_params_and_macs_and_the_tflite_is_smaller(make_ctx):
    ctx = run_stages(make_ctx("cnn"), Train(epochs=1))
    out = run_stages(ctx, Structural(criterion="obd", ratio=0.5, calibration_samples=32,
                                     min_width=2),
                     FineTune(epochs=1), Convert(sparse="off"),
                     Validate(runs=3, warmup=0, memory=False, min_agreement=0.5))
    record = run_stages(ctx, Structural(criterion="obd", ratio=0.5, calibration_samples=32,
                                        min_width=2)).result
    widths = {row["layer"]: (row["width_before"], row["width_after"]) for row in record.layers}
    assert widths["conv2d"] == (8, 4) and widths["dense"] == (32, 16)
    assert widths["dense_1"] == (10, 10)  # the outputs stay
    assert record.params_after < record.params_before
    assert record.macs_after < record.macs_before
    assert record.test_accuracy_before_finetune > 0.1  # half the channels: far from chance
    shapes = {t.shape for t in inspect(out.tflite["final"]).tensors if t.role == "weights"}
    assert (16, 144) in shapes and (4, 3, 3, 1) in shapes  # dense 32x(36*8) became 16x(36*4)
    assert out.result.accuracy["tflite"] > 0.1


@pytest.mark.slow
def test_structural_then_magnitude_then_int8_in_one_pipeline(make_ctx):
    from prune2edge.stages import Quantize

    out = run_stages(make_ctx(), Train(epochs=1), Structural(ratio=0.5), FineTune(epochs=1),
                     Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=5)),
                     FineTune(epochs=1), Strip(), Quantize(samples=20), Convert(),
                     Validate(runs=3, warmup=0, memory=False, min_agreement=0.5))
    weights = [t for t in inspect(out.tflite["final"]).tensors if t.role == "weights"]
    assert {t.shape for t in weights} == {(16, 784), (10, 16)}
    assert all(t.zeros == pytest.approx(0.5, abs=0.01) for t in weights)
    assert {t.dtype for t in weights} == {"int8"}


@pytest.mark.slow
def test_iterative_schedule_prunes_a_rebuilt_model_again(make_ctx):
    once = run_stages(make_ctx(), Train(epochs=1), Structural(ratio=0.5))
    first = once.result.layers[0]
    twice = run_stages(once, FineTune(epochs=1), Structural(ratio=0.5))
    second = twice.result.layers[0]
    out = run_stages(twice, FineTune(epochs=1), Convert(sparse="off"))
    assert (first["width_before"], first["width_after"]) == (32, 16)
    assert (second["width_before"], second["width_after"]) == (16, 8)
    shapes = {t.shape for t in inspect(out.tflite["final"]).tensors if t.role == "weights"}
    assert shapes == {(8, 784), (10, 8)}


@pytest.mark.slow
def test_obd_prune_is_one_shot_and_tfmot_holds_its_mask(make_ctx):
    ctx = run_stages(make_ctx(), Train(epochs=1))
    prune = Prune(schedule=ConstantSparsity(target_sparsity=0.7, frequency=5), criterion="obd",
                  calibration_samples=64)
    pruned = run_stages(ctx, prune)
    assert 0 < pruned.result.test_accuracy_before_finetune <= 1
    before = {layer.name: layer.get_weights()[0] != 0 for layer in pruned.model.layers
              if layer.get_weights()}
    done = run_stages(pruned, FineTune(epochs=1), Strip())
    for layer in done.model.layers:
        if layer.get_weights():
            assert np.array_equal(layer.get_weights()[0] != 0,
                                  before[f"prune_low_magnitude_{layer.name}"])


@pytest.mark.parametrize(("make", "what"), [
    (lambda: Structural(ratio=1.0), "ratio 'ratio' must be in [0, 1), got 1.0"),
    (lambda: Structural(ratios={"dense": 0.5}, allocation="global"),
     "per-layer ratios and global allocation exclude each other"),
    (lambda: Prune(criterion="obd"), "criterion obd prunes once, by saliency"),
])
def test_parameter_checks(make, what):
    with pytest.raises(RecipeError) as info:
        make()
    assert info.value.what.startswith(what)


def test_unknown_layer_names_and_unprunable_models(make_ctx):
    with pytest.raises(ModelError) as info:
        Structural(exclude=("dens",)).preflight(make_ctx())
    assert info.value.what == "exclude names 'dens', which is no layer"
    keras = _compat.keras()
    only_output = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                                    keras.layers.Dense(10)])
    with pytest.raises(ModelError) as info:
        Structural().preflight(make_ctx(model=only_output))
    assert info.value.what == "no layer can lose units or filters"
    assert "its units are the model's outputs" in info.value.where
