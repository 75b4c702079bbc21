"""A Keras 3 layer of a user's own, and its prune2edge translation (the README's example)."""

from pathlib import Path

import keras

import prune2edge


@keras.saving.register_keras_serializable("my_layers")
class ChannelScale(keras.layers.Layer):
    """x * gamma, one learned factor per channel."""

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.gamma


@keras.saving.register_keras_serializable("my_layers")
class Untranslated(ChannelScale):
    """The same layer, with no translation registered."""


@prune2edge.register_keras3_translation(ChannelScale)
def channel_scale(layer, inputs, tf_keras):
    """A per-channel scale is a 1x1 depthwise convolution."""
    scale = tf_keras.layers.DepthwiseConv2D(1, use_bias=False, name=layer.name)
    outputs = scale(inputs)
    scale.set_weights([keras.ops.convert_to_numpy(layer.gamma).reshape(1, 1, -1, 1)])
    return outputs


def model():
    return keras.saving.load_model(Path(__file__).with_name("scaled.keras"))


def untranslated():
    return keras.saving.load_model(Path(__file__).with_name("untranslated.keras"))
