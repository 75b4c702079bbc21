"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): the pruned model learns from the
labels and from the dense model's softened outputs.

The teacher's outputs are computed once and packed next to the labels (column 0: the label,
then the teacher's logits), so the student trains with Keras' own `fit` — pruning callbacks,
validation split and checkpoints unchanged. The loss is (1 - weight) x cross-entropy with
the labels + weight x T² x cross-entropy between the teacher's and the student's
temperature-T softmax; both are registered Keras objects, so checkpoints reload them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _compat
from ..data.stream import Stream
from .model import predict

EPSILON = 1e-7


@dataclass(frozen=True)
class Teacher:
    """The model to learn from, and how: softmax temperature and the loss share it gets."""

    model: Any
    temperature: float = 4.0
    weight: float = 0.5

    def describe(self) -> str:
        return f"distillation(temperature={self.temperature}, weight={self.weight})"


def teacher_logits(teacher: Any, x: np.ndarray | Stream, from_logits: bool) -> np.ndarray:
    """The teacher's logits on `x` (log-probabilities for a model ending in softmax)."""
    outputs = predict(teacher, x).astype(np.float32)
    return outputs if from_logits else np.log(outputs + EPSILON)


def pack(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Labels and teacher logits side by side, as Keras' `y`."""
    return np.concatenate([labels.reshape(-1, 1).astype(np.float32), logits], axis=1)


def loss_and_metric(keras: Any, temperature: float, weight: float,
                    from_logits: bool) -> tuple[Any, Any]:
    """The distillation loss and an accuracy metric that reads the packed labels, for the
    Keras module `keras` (tf_keras, or Keras 3 on the TensorFlow backend)."""
    loss_cls, accuracy = register(keras)
    return loss_cls(temperature=temperature, weight=weight, from_logits=from_logits), accuracy


@functools.cache
def register(keras: Any) -> tuple[Any, Any]:
    """The loss and metric classes, registered with `keras` (so saved models reload)."""
    tf = _compat.tf()
    register = keras.saving.register_keras_serializable(package="prune2edge")

    @register
    class DistillationLoss(keras.losses.Loss):  # lazy Keras
        def __init__(self, temperature: float = 4.0, weight: float = 0.5,
                     from_logits: bool = True, name: str = "distillation", **kwargs: Any):
            super().__init__(name=name, **kwargs)
            self.temperature, self.weight, self.from_logits = temperature, weight, from_logits

        def call(self, y_true: Any, y_pred: Any) -> Any:
            labels = tf.cast(y_true[:, 0], tf.int32)
            logits = y_pred if self.from_logits else tf.math.log(y_pred + EPSILON)
            hard = keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                                from_logits=True)
            t = self.temperature
            soft_teacher = tf.nn.softmax(y_true[:, 1:] / t)
            soft = -tf.reduce_sum(soft_teacher * tf.nn.log_softmax(logits / t), axis=-1)
            return (1.0 - self.weight) * hard + self.weight * t * t * soft

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "temperature": self.temperature,
                    "weight": self.weight, "from_logits": self.from_logits}

    @register
    def label_accuracy(y_true: Any, y_pred: Any) -> Any:
        labels = tf.cast(y_true[:, 0], tf.int64)
        return tf.cast(tf.equal(labels, tf.argmax(y_pred, axis=-1)), tf.float32)

    return DistillationLoss, label_accuracy
