"""Example model factories used by the bundled recipes and benchmarks (untrained models:
tf_keras, and one Keras 3 model)."""

from __future__ import annotations

from typing import Any

from . import _compat


def seed_mlp() -> Any:
    """The classic tfmot example: Dense 64-64-10 (relu, relu, softmax) on 784 inputs."""
    layers = _compat.keras().layers
    return _compat.keras().Sequential([
        layers.Input((784,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="seed_mlp")


def mnist_mlp() -> Any:
    """A wider MLP for MNIST: Dense 300-100-10 (LeNet-300-100), logits out."""
    layers = _compat.keras().layers
    return _compat.keras().Sequential([
        layers.Input((28, 28)),
        layers.Flatten(),
        layers.Dense(300, activation="relu"),
        layers.Dense(100, activation="relu"),
        layers.Dense(10),
    ], name="mnist_mlp")


def mnist_cnn() -> Any:
    """Conv32-MaxPool-Conv64-MaxPool-Flatten-Dense128-Dense10, logits out."""
    layers = _compat.keras().layers
    return _compat.keras().Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10),
    ], name="mnist_cnn")


def mnist_cnn_keras3() -> Any:
    """`mnist_cnn` written in Keras 3 (functional): for the keras3 engine and its twin."""
    keras = _compat.keras3_engine()
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = layers.MaxPooling2D()(layers.Conv2D(32, 3, activation="relu")(inputs))
    x = layers.MaxPooling2D()(layers.Conv2D(64, 3, activation="relu")(x))
    x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
    return keras.Model(inputs, layers.Dense(10)(x), name="mnist_cnn_keras3")


def mobilenet_v2_mnist() -> Any:
    """tf_keras.applications MobileNetV2 (alpha 1.0, random weights) for 32x32 RGB inputs and
    10 classes: the bundled MNIST, resized and repeated to three channels, trains it. Batch
    norm momentum 0.9 (`_short_memory`)."""
    keras = _compat.keras()
    return _short_memory(keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3),
                                                        classes=10))


def vww_mobilenet() -> Any:
    """A visual-wake-words-style MobileNet for microcontrollers (MLPerf Tiny's person
    detector's shape: tf_keras.applications MobileNet, alpha 0.25, 96x96 RGB, random
    weights), average pooling and a dense head giving logits for 10 classes (TFLM aborts on
    its int8 softmax); the bundled MNIST, resized and repeated to three channels, trains it.
    Batch norm momentum 0.9, as `mobilenet_v2_mnist`."""
    keras = _compat.keras()
    base = _short_memory(keras.applications.MobileNet(
        input_shape=(96, 96, 3), alpha=0.25, weights=None, include_top=False, pooling="avg"))
    return keras.Model(base.input, keras.layers.Dense(10, name="logits")(base.output),
                       name="vww_mobilenet")


def _short_memory(model: Any) -> Any:
    """The model with its batch norms' momentum 0.9 instead of the applications' 0.999
    (tuned for long ImageNet runs: after a few MNIST epochs its estimates are still off)."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["momentum"] = 0.9
    return _compat.keras().Model.from_config(config)


def ds_cnn_mnist() -> Any:
    """A keyword-spotting-style DS-CNN (MLPerf Tiny's model shape: a strided conv, then
    depthwise-separable blocks, average pooling, a dense head; batch norm after every conv)
    sized for 28x28 MNIST digits as a stand-in for 49x10 MFCC frames. Logits out."""
    keras = _compat.keras()
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(64, 5, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(x))
    for block in range(1, 5):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{block}")(x)
        x = layers.ReLU(name=f"dw{block}_relu")(
            layers.BatchNormalization(name=f"dw{block}_bn")(x))
        x = layers.Conv2D(64, 1, use_bias=False, name=f"pw{block}")(x)
        x = layers.ReLU(name=f"pw{block}_relu")(
            layers.BatchNormalization(name=f"pw{block}_bn")(x))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(10, name="head")(x), name="ds_cnn")


def outlier_cnn() -> Any:
    """A small CNN (batch norm, depthwise convolution) for `add_outlier_channel`: the model of
    the int8 tests and the QAT benchmark."""
    return _outlier_cnn(_compat.keras())


def outlier_cnn_keras3() -> Any:
    """`outlier_cnn` in Keras 3 (same layers, same names): the keras3 engine's QAT benchmark."""
    return _outlier_cnn(_compat.keras3_engine())


def _outlier_cnn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = layers.Conv2D(8, 3, strides=2, use_bias=False, name="conv1")(inputs)
    x = layers.ReLU(name="relu1")(layers.BatchNormalization(name="bn1")(x))
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = layers.Flatten(name="flat")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="head")(x))


def add_outlier_channel(model: Any, factor: float) -> None:
    """Scale `outlier_cnn`'s first `conv2` channel up by `factor` and the head's weights from
    it down by as much: the Keras function is unchanged, but one int8 scale per activation
    tensor, set by that channel, leaves the others a step or two."""
    kernel, bias = model.get_layer("conv2").get_weights()
    kernel[..., 0] *= factor
    bias[0] *= factor
    model.get_layer("conv2").set_weights([kernel, bias])
    head, head_bias = model.get_layer("head").get_weights()
    head[0::16] /= factor  # channel 0 of every flattened position
    model.get_layer("head").set_weights([head, head_bias])
