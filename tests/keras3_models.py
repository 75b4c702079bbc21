"""Keras 3 model factories for the keras3 engine's tests (keras3_models:NAME in recipes): a
subclassed model, as people write them, registered the Keras 3 way."""

import keras
import numpy as np


@keras.saving.register_keras_serializable("keras3_models")
class Digits(keras.Model):
    """A small CNN whose call() is Python: convolution, dropout, a dense head."""

    def __init__(self, width=8, classes=10, **kwargs):
        super().__init__(**kwargs)
        self.width, self.classes = width, classes
        self.conv = keras.layers.Conv2D(width, 3, strides=2, activation="relu")
        self.flat = keras.layers.Flatten()
        self.drop = keras.layers.Dropout(0.25)
        self.hidden = keras.layers.Dense(32, activation="relu")
        self.head = keras.layers.Dense(classes, activation="softmax")

    def call(self, x, training=False):
        x = self.conv(keras.ops.expand_dims(x, -1) if len(x.shape) == 3 else x)
        return self.head(self.hidden(self.drop(self.flat(x), training=training)))

    def get_config(self):
        return {**super().get_config(), "width": self.width, "classes": self.classes}


def subclassed():
    model = Digits(name="digits")
    model(np.zeros((1, 28, 28), "float32"))  # a subclassed model makes its weights when called
    return model


def functional():
    inputs = keras.Input((28, 28))
    x = keras.layers.Reshape((28, 28, 1))(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="digits_functional")


def layer_norm():
    """A convolution normalised by LayerNormalization (ConvNeXt's), then a dense head."""
    inputs = keras.Input((28, 28))
    x = keras.layers.Conv2D(8, 3, strides=2)(keras.layers.Reshape((28, 28, 1))(inputs))
    x = keras.layers.Flatten()(keras.layers.LayerNormalization()(x))
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="layer_norm")


def conv_bn():
    """Convolutions normalised by batch norm then ReLU (MobileNet's blocks), a depthwise one
    among them, and a softmax head."""
    inputs = keras.Input((28, 28))
    x = keras.layers.Reshape((28, 28, 1))(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False)(x)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization()(x))
    x = keras.layers.DepthwiseConv2D(3, use_bias=False)(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name="conv_bn")


def relu_then_norm():
    """A ReLU convolution normalised after its activation: no folding into it."""
    inputs = keras.Input((28, 28))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(
        keras.layers.Reshape((28, 28, 1))(inputs))
    x = keras.layers.Flatten()(keras.layers.BatchNormalization()(x))
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="relu_then_norm")
