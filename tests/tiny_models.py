"""Tiny model factories for fast tests (named in test recipes as tiny_models:NAME)."""

from prune2edge import _compat


def mlp():
    keras = _compat.keras()
    return keras.Sequential([
        keras.layers.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ], name="tiny_mlp")


def cnn():
    keras = _compat.keras()
    return keras.Sequential([
        keras.layers.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ], name="tiny_cnn")


def mobile():
    """A convolution, a depthwise one, a pointwise one and a classifier (8 channels each)."""
    keras = _compat.keras()
    return keras.Sequential([
        keras.layers.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.DepthwiseConv2D(3, activation="relu"),
        keras.layers.Conv2D(8, 1, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10),
    ], name="tiny_mobile")


def not_a_model():
    return "a string"


def dropout_cnn():
    keras = _compat.keras()
    return keras.Sequential([
        keras.layers.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10),
    ], name="tiny_dropout_cnn")


def rgb_cnn():
    """Takes 20x20 colour images: MNIST reaches it resized and turned to RGB."""
    keras = _compat.keras()
    return keras.Sequential([
        keras.layers.Input((20, 20, 3)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ], name="tiny_rgb_cnn")


def normed_mlp():
    """An MLP with a LayerNormalization, which tfmot's 8-bit scheme cannot fake-quantize."""
    keras = _compat.keras()
    return keras.Sequential([
        keras.layers.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.LayerNormalization(),
        keras.layers.Dense(10, activation="softmax"),
    ], name="tiny_normed_mlp")


def conv_bn():
    """A convolution, its batch norm and ReLU: tfmot folds the batch norm when it fakes int8."""
    keras = _compat.keras()
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False)(inputs)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x), name="tiny_conv_bn")
