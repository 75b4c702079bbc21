"""The tensor arena predicted from the flatbuffer (`tflite.arena`): TFLM's greedy planner and
persistent allocations replayed, equal to the byte to what TFLM's recording allocator counts
on models with every op kind the prediction models, and honest about the ops it does not."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge import _compat
from prune2edge.engine.prepare import seed_everything
from prune2edge.keras.converter import QuantizationPlan, to_tflite
from prune2edge.tflite.arena import predict
from prune2edge.tflite.model import TFLiteModel


def _ds_cnn(layers, keras):
    inputs = keras.Input((12, 12, 1))
    x = layers.ReLU(6.0)(layers.BatchNormalization()(layers.Conv2D(6, 3, strides=2)(inputs)))
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Conv2D(10, 1, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(4)(layers.GlobalAveragePooling2D()(x)))


def _branchy(layers, keras):
    inputs = keras.Input((8, 8, 3))
    x = layers.ZeroPadding2D()(layers.Conv2D(4, 1)(inputs))
    y = layers.ReLU()(x)
    x = layers.Concatenate()([layers.Add()([x, y]), layers.Multiply()([x, y])])
    x = layers.AveragePooling2D()(layers.MaxPooling2D()(x))
    x = layers.Activation("sigmoid")(layers.Dense(6)(layers.Flatten()(x)))
    return keras.Model(inputs, layers.Softmax()(x))


def _unmodelled(layers, keras):
    inputs = keras.Input((6,))
    return keras.Model(inputs, layers.Activation("tanh")(layers.Dense(3)(inputs)))


MODELS = {"ds-cnn int8 io": (_ds_cnn, "int8"), "branches float io": (_branchy, "float32"),
          "ds-cnn float": (_ds_cnn, None), "tanh": (_unmodelled, "int8")}


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    seed_everything(0)
    keras = _compat.keras()
    made = {}
    for name, (build, io) in MODELS.items():
        model = build(keras.layers, keras)
        samples = np.random.default_rng(0).uniform(0, 1, (16, *model.input_shape[1:]))
        plan = None if io is None else QuantizationPlan("int8", io_type=io,
                                                         samples=samples.astype(np.float32))
        made[name] = to_tflite(model, plan, sparse=False)
    return made


@pytest.mark.parametrize("name", ["ds-cnn int8 io", "branches float io", "ds-cnn float"])
def test_the_prediction_is_what_tflm_allocates(files, name):
    pytest.importorskip("tflite_micro")
    from prune2edge.tflite.micro import MicroRunner

    predicted = predict(TFLiteModel.read(files[name]))
    recorded = MicroRunner(files[name], name).recorded()
    assert (predicted.head, predicted.tail, predicted.total) == (
        recorded["head"], recorded["tail"], recorded["total"])
    assert predicted.unmodelled == ()


def test_the_planner_is_replayed_not_the_liveness_peak(files):
    # Largest first: the branches' float input and output share offset 0, and the int8
    # tensors then cannot fill the gap, so TFLM's head is above the most bytes alive at once.
    model = TFLiteModel.read(files["branches float io"])
    assert predict(model).head >= max(op.live_bytes for op in model.activation_memory())
    ds_cnn = TFLiteModel.read(files["ds-cnn int8 io"])
    assert predict(ds_cnn).head % 16 == 0


def test_an_op_without_a_model_is_named(files):
    predicted = predict(TFLiteModel.read(files["tanh"]))
    assert predicted.unmodelled == ("TANH",)
    assert predicted.to_dict()["unmodelled"] == ["TANH"]
