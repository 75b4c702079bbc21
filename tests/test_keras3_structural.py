"""Structural pruning of Keras 3 graphs as they are: the same handlers trace a Keras 3 model's
layers and its operations written without a layer (operators, keras.ops), and the model is
rebuilt narrower in Keras 3. Like for like, it removes the channels the tf_keras engine removes
from the model's translation, and the two pruned models compute the same."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge import _compat
from prune2edge.errors import ModelError
from prune2edge.keras.criteria import criterion
from prune2edge.keras.from_keras3 import translate_model
from prune2edge.keras.surgery import HANDLERS, group_scores, plan, rebuild, select, shrink_report
from prune2edge.keras.surgery.handlers import PerChannelHandler
from test_keras3 import files  # noqa: F401  (the fixture: Keras 3 models saved by Keras 3)

keras = pytest.importorskip("keras")
X = np.random.default_rng(0).uniform(0, 255, (8, 28, 28, 1)).astype(np.float32)


def cut(model, ratio=0.5):
    """`model` planned, its groups cut by L1 to `ratio`, rebuilt: (plan, kept, new model)."""
    planned = plan(model)
    producers = [m for g in planned.prunable for m in g.members]
    scores = group_scores(planned, criterion("l1").channel_scores(
        planned.graph.model, producers))
    keep = select(planned, scores, {"*": ratio}, 2, "uniform")
    return planned, keep, rebuild(planned.graph, keep)


def groups(planned):
    return {frozenset(g.members): g.prunable for g in planned.groups}


def load(files, name):  # noqa: F811
    return keras.saving.load_model(files / name, compile=False)


def ops_model():
    """MobileNetV3-style blocks written with operators and keras.ops, every producer prunable:
    hard-swish by hand, a squeeze-excite with keras.ops.mean, a residual clip, concatenated
    operations, a spatial mean reshaped for a 1x1 convolution and back."""
    layers, ops = keras.layers, keras.ops
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="c0")(inputs * (1.0 / 255.0) - 0.5)
    x = x * ops.relu6(x + 3.0) / 6.0
    squeeze = layers.Conv2D(8, 1, name="c1")(ops.mean(x, axis=[1, 2], keepdims=True))
    x = x * ops.hard_sigmoid(squeeze)
    y = layers.Conv2D(8, 3, padding="same", activation="hard_silu", name="c2")(x)
    x = ops.clip(x + y, -2.0, 4.0)
    x = ops.concatenate([x, ops.negative(x), ops.sigmoid(x)], axis=-1)
    x = layers.Activation("hard_silu")(ops.hard_silu(x))
    x = layers.Conv2D(12, 1, activation="relu")(ops.reshape(ops.mean(x, axis=(1, 2)),
                                                            (-1, 1, 1, 24)))
    x = ops.reshape(x, (-1, 12))
    x = ops.silu(ops.relu(x) - 1.0) + 2.0 * x
    return keras.Model(inputs, layers.Dense(10)(1.0 - x / 3.0), name="ops")


def test_operations_are_traced_and_cut_like_the_translation():
    """The same groups, channels, parameters, MACs and outputs as the tf_keras engine's
    surgery on the translated model."""
    source = ops_model()
    twin, _ = translate_model(source)
    native, native_keep, native_cut = cut(source)
    translated, twin_keep, twin_cut = cut(twin)
    assert _compat.is_keras3_node(native_cut) and native_cut.name == source.name
    assert groups(native) == groups(translated)
    assert groups(native)[frozenset({"c0", "c1", "c2"})]  # tied by operations
    assert {k: v.tolist() for k, v in native_keep.items()} == \
        {k: v.tolist() for k, v in twin_keep.items()}
    ours, theirs = shrink_report(native, native_cut, native_keep), \
        shrink_report(translated, twin_cut, twin_keep)
    for key in ("params_before", "params_after", "macs_before", "macs_after", "kept"):
        assert ours[key] == theirs[key], key
    assert ours["macs_after"] < 0.5 * ours["macs_before"]
    np.testing.assert_allclose(np.asarray(native_cut(X)), twin_cut.predict(X, verbose=0),
                               rtol=1e-4, atol=1e-4)


def test_a_file_with_operations_plans_as_its_translation_and_rebuilds_exactly(files):  # noqa: F811
    """ops.keras (written by Keras 3 in its own process) adds a transpose, which stops the
    channels that reach it in both engines."""
    source = load(files, "ops.keras")
    assert groups(plan(source)) == groups(plan(translate_model(source)[0]))
    _, _, same = cut(source, ratio=0.0)
    np.testing.assert_array_equal(np.asarray(same(X)), np.asarray(source(X)))
    assert [n.name for n in same.operations] == [n.name for n in source.operations]


def test_a_users_layer_stops_channels_until_it_has_a_handler(files, monkeypatch):  # noqa: F811
    """No translation needed: a layer without a handler keeps the channels reaching it whole
    (saying why); a handler registered for its class lets them pass and slices its weights."""
    monkeypatch.syspath_prepend(str(files))
    source = __import__("my_layers").untranslated()
    planned = plan(source)
    conv = planned.graph.inbound["scale"][0]
    stopped = next(g for g in planned.groups if conv in g.members)
    assert stopped.reasons == ["its channels reach a Untranslated layer ('scale')"]
    HANDLERS["Untranslated"] = PerChannelHandler()
    try:
        _, keep, smaller = cut(source)
    finally:
        del HANDLERS["Untranslated"]
    assert smaller.get_layer("scale").gamma.shape == (len(keep[conv]),) == (4,)
    gamma = keras.ops.convert_to_numpy(source.get_layer("scale").gamma)[keep[conv]]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(smaller.get_layer("scale").gamma),
                                  gamma)


def test_nested_models_are_inlined_and_shared_layers_refused(tmp_path):
    """A nested Sequential (ConvNeXt's stem), as built and as loaded from a file (where Keras
    calls its layers twice while it rebuilds it): its layers join the outer graph once."""
    dense = keras.layers.Dense
    inner = keras.Sequential([keras.Input((6,)), dense(8, activation="relu", name="a"),
                              dense(8, name="b")], name="block")
    inputs = keras.Input((6,))
    outer = keras.Model(inputs, dense(3, name="head")(inner(inputs)))
    outer.save(tmp_path / "nested.keras")
    for model in (outer, keras.saving.load_model(tmp_path / "nested.keras")):
        _, keep, smaller = cut(model)
        assert [layer.name for layer in smaller.layers][1:] == ["a", "b", "head"]
        assert smaller.get_layer("a").units == smaller.get_layer("b").units == len(keep["a"])
        assert len(keep["a"]) == 4
    shared = keras.layers.Dense(6, name="shared")
    x = keras.Input((6,))
    with pytest.raises(ModelError) as info:
        plan(keras.Model(x, shared(shared(x))))
    assert info.value.what == "layer 'shared' is shared (2 calls)"


def test_a_constant_per_channel_stops_channels():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(4, name="hidden")(inputs)
    x = x * np.arange(1, 5, dtype="float32")  # one factor per channel: it cannot follow a cut
    planned = plan(keras.Model(inputs, keras.layers.Dense(3)(x)))
    hidden = next(g for g in planned.groups if g.members == ["hidden"])
    (reason,) = hidden.reasons
    assert reason.startswith("its channels reach a Multiply operation ('multiply")
