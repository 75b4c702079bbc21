"""Accuracy control for int8 (after NNCF's): while the int8 file disagrees with its Keras model
on held-out training samples, keep the op with the worst per-layer error in float, one at a
time, ranking again after each (an op kept float hands its error on to the next)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..keras.converter import Control
from .layers import LayerError


@dataclass(frozen=True)
class Attempt:
    """One quantized file judged on the control samples."""

    float_layers: tuple[str, ...]
    agreement: float
    change_pt: float  # the file's accuracy minus Keras', in points
    bytes: int

    def meets(self, control: Control) -> bool:
        return self.agreement >= control.min_agreement and (
            control.max_drop is None or -self.change_pt <= control.max_drop)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "float_layers": list(self.float_layers)}


@dataclass(frozen=True)
class Outcome:
    float_nodes: tuple[str, ...]
    errors: list[LayerError]  # of the file with `float_nodes` in float
    attempts: list[Attempt] = field(default_factory=list)
    met: bool = True


def judge(keras_out: np.ndarray, tflite_out: np.ndarray, labels: np.ndarray,
          float_layers: tuple[str, ...], size: int) -> Attempt:
    """Agreement of the int8 file with Keras, and its accuracy change against Keras in points."""
    keras_pick, tflite_pick = keras_out.argmax(1), tflite_out.argmax(1)
    change = (np.mean(tflite_pick == labels) - np.mean(keras_pick == labels)) * 100
    return Attempt(float_layers, round(float(np.mean(keras_pick == tflite_pick)), 6),
                   round(float(change), 4), size)


def accuracy_control(control: Control, start: tuple[str, ...], errors: list[LayerError],
                     attempt: Callable[[tuple[str, ...]], Attempt],
                     rank: Callable[[tuple[str, ...]], list[LayerError]],
                     progress: Callable[[Attempt], None] = lambda _: None) -> Outcome:
    """Keep ops in float, worst error first, until an attempt meets `control`. `start` are
    the ops the recipe keeps in float and `errors` their file's per-layer errors; `attempt`
    quantizes and judges, `rank` measures the errors with the given ops in float. When no
    attempt meets it the outcome keeps `start` and says so."""
    nodes, attempts, first = start, [], errors
    while True:
        tried = attempt(nodes)
        attempts.append(tried)
        progress(tried)
        if tried.meets(control):
            return Outcome(nodes, errors, attempts)
        worst = next((e for e in errors if e.node not in nodes and e.error is not None), None)
        if worst is None or len(nodes) - len(start) >= control.max_float_layers:
            return Outcome(start, first, attempts, met=False)
        nodes = (*nodes, worst.node)
        errors = rank(nodes)
