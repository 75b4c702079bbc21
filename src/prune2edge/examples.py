"""Example model factories used by the bundled recipes (untrained tf_keras models)."""

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


def mobilenet_v2_mnist() -> Any:
    """tf_keras.applications MobileNetV2 (alpha 1.0, random weights) for 32x32 RGB inputs and
    10 classes: the bundled MNIST, resized and repeated to three channels, trains it. Batch
    normalisation tracks its statistics with momentum 0.9 instead of the applications' 0.999
    (tuned for long ImageNet runs: after a few MNIST epochs its estimates are still off)."""
    keras = _compat.keras()
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["momentum"] = 0.9
    return keras.Model.from_config(config)
