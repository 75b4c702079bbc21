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
