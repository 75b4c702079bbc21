"""Writes Keras 3 models as a Keras 3 user would (run in a process without
TF_USE_LEGACY_KERAS): raw operations in the graph, and a layer of the user's own."""

import sys
from pathlib import Path

import keras
from keras import layers, ops

sys.path.insert(0, str(Path(__file__).parent))
from my_layers import ChannelScale, Untranslated

out = Path(sys.argv[1])
keras.utils.set_random_seed(0)


def ops_model():
    """MobileNetV3-style blocks written with operators and keras.ops, as people write them."""
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same")(inputs * (1.0 / 255.0) - 0.5)
    x = x * ops.relu6(x + 3.0) / 6.0  # hard-swish by hand
    squeeze = ops.mean(x, axis=[1, 2], keepdims=True)
    squeeze = layers.Conv2D(8, 1)(squeeze)
    x = x * ops.hard_sigmoid(squeeze)  # squeeze-excite, broadcast over the image
    y = layers.Conv2D(8, 3, padding="same", activation="hard_silu")(x)
    x = ops.clip(x + y, -2.0, 4.0)
    x = ops.concatenate([x, ops.negative(x), ops.sigmoid(x)], axis=-1)
    x = layers.Activation("hard_silu")(ops.hard_silu(x))
    pooled = ops.max(x, axis=(1, 2))
    flat = ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, 14 * 14 * 24))
    x = ops.concatenate([pooled, layers.Dense(8)(flat)], axis=-1)
    x = ops.silu(ops.relu(x) - 1.0) + 2.0 * x
    return keras.Model(inputs, layers.Dense(10)(1.0 - x / 3.0))


def refused_model():
    inputs = keras.Input((4,))
    x = layers.Dense(3)(inputs)
    return keras.Model(inputs, 1.0 / x + x / layers.Dense(3)(inputs))


def scaled_model(scale):
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = scale(name="scale")(layers.Conv2D(8, 3, activation="relu")(x))
    model = keras.Model(inputs, layers.Dense(10)(layers.Flatten()(x)))
    model.get_layer("scale").gamma.assign(keras.random.uniform((8,), 0.5, 2.0, seed=3))
    return model


ops_model().save(out / "ops.keras")
refused_model().save(out / "refused.keras")
scaled_model(ChannelScale).save(out / "scaled.keras")
scaled_model(Untranslated).save(out / "untranslated.keras")
print(keras.__version__)
