"""Channels through real architectures' building blocks: residual chains, squeeze-excite,
grouped and depthwise convolutions, TensorFlow ops, nested models; rounding; `structure`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge import _compat
from prune2edge.cli import app
from prune2edge.keras.surgery import group_scores, plan, rebuild, select

X = np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32)


@pytest.fixture(autouse=True)
def fresh_names():
    _compat.keras().backend.clear_session()


def keep_everything(planned):
    return {m: np.arange(g.width) for g in planned.prunable for m in g.members}


def blocks_model():
    """A residual chain of three Adds, a squeeze-excite gate, hard-swish as TensorFlow ops,
    a grouped conv, a depthwise conv with depth_multiplier 2, and a nested Sequential."""
    keras, tf = _compat.keras(), _compat.tf()
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    stem = keras.Sequential([layers.Conv2D(8, 3, padding="same", name="stem_conv"),
                             layers.BatchNormalization(name="stem_bn")], name="stem")
    x = stem(inputs)
    for i in range(3):
        y = layers.Conv2D(8, 1, name=f"expand{i}")(x)
        y = y * tf.nn.relu6(y + 3.0) / 6.0  # hard-swish, written as ops
        y = layers.Conv2D(8, 3, padding="same", groups=4, name=f"grouped{i}")(y)
        squeeze = layers.GlobalAveragePooling2D(name=f"squeeze{i}")(y)
        squeeze = layers.Reshape((1, 1, 8), name=f"reshape{i}")(squeeze)
        squeeze = layers.Conv2D(2, 1, activation="relu", name=f"se_reduce{i}")(squeeze)
        squeeze = layers.Conv2D(8, 1, activation="sigmoid", name=f"se_expand{i}")(squeeze)
        y = layers.Multiply(name=f"excite{i}")([y, squeeze])
        y = layers.Conv2D(8, 1, name=f"project{i}")(y)
        x = layers.Add(name=f"add{i}")([x, y])
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = layers.Conv2D(6, 1, name="head_conv")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3, name="classifier")(x))


@pytest.mark.slow
def test_blocks_plan_into_the_groups_they_tie():
    model = blocks_model()
    planned = plan(model)
    groups = {g.name: g for g in planned.groups}
    trunk = next(g for g in planned.groups if "stem_conv" in g.members)
    assert trunk.members == ["stem_conv", "project0", "project1", "project2"] and trunk.prunable
    assert trunk.step == 1  # the depthwise conv repeats channels, it does not group them
    for i in range(3):  # the excite conv joins the expand conv, whose groups go whole
        gate = next(g for g in planned.groups if f"expand{i}" in g.members)
        assert gate.members == [f"expand{i}", f"se_expand{i}"] and gate.step == 2
        assert groups[f"se_reduce{i}"].prunable
    assert groups["classifier"].reasons == ["its units are the model's outputs"]
    same = rebuild(planned.graph, keep_everything(planned))
    assert np.allclose(same(X).numpy(), model(X).numpy(), atol=1e-6)


def test_blocks_rebuild_smaller_in_whole_groups_and_rounded_widths():
    planned = plan(blocks_model())
    scores = group_scores(planned, {m: np.arange(g.width, dtype=float)
                                    for g in planned.prunable for m in g.members})
    keep = select(planned, scores, {"*": 0.5}, 1, "uniform")
    assert keep["expand0"].tolist() == [4, 5, 6, 7]  # two whole groups of two
    smaller = rebuild(planned.graph, keep)
    grouped = smaller.get_layer("grouped0")
    assert (grouped.filters, grouped.groups) == (4, 2)
    assert smaller.get_layer("reshape0").target_shape == (1, 1, 4)
    assert smaller.get_layer("dw").output_shape[-1] == 8  # 4 kept channels, 2 filters each
    assert smaller(X).shape == (4, 3)
    rounded = select(planned, scores, {"*": 0.5}, 1, "uniform", round_to=8)
    assert len(rounded["stem_conv"]) == 8 and len(rounded["head_conv"]) == 6  # <= width


def test_a_merge_of_differently_concatenated_channels_keeps_them_whole():
    keras = _compat.keras()
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    a, b = layers.Conv2D(2, 1, name="a")(inputs), layers.Conv2D(4, 1, name="b")(inputs)
    c = layers.Conv2D(6, 1, name="c")(inputs)
    x = layers.Add(name="mix")([layers.Concatenate()([a, b]), c])
    model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)))
    reasons = {g.name: g.reasons for g in plan(model).groups}
    assert reasons["a"] == reasons["c"] == [
        "its channels meet differently arranged channels in Add 'mix'"]


def test_a_residual_on_the_input_keeps_the_chain_whole():
    keras = _compat.keras()
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Add(name="skip")([inputs, keras.layers.Conv2D(3, 1, name="conv")(inputs)])
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    (conv,) = [g for g in plan(model).groups if g.members == ["conv"]]
    assert conv.reasons == ["its channels are tied to the model's input 'input_1' in Add 'skip'"]


@pytest.mark.slow
def test_structure_shows_the_plan(tmp_path):
    path = tmp_path / "blocks.keras"
    blocks_model().save(path)
    runner = CliRunner()
    result = runner.invoke(app, ["structure", str(path), "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["producers"] == 15 and described["prunable_producers"] == 14
    assert {tuple(r["members"]) for r in described["rows"] if not r["prunable"]} == {
        ("classifier",)}
    table = runner.invoke(app, ["structure", "mnist_cnn"])
    assert table.exit_code == 0 and "its units are the model's outputs" in table.stdout
    missing = runner.invoke(app, ["structure", str(tmp_path / "missing.keras")])
    assert missing.exit_code == 1 and "model file not found" in missing.stderr
