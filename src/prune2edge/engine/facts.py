"""Facts about a build that stages require, provide, remove or forbid.

The pipeline checks the chain of facts before any work starts, so "strip before prune" is a
recipe error in milliseconds. Facts are enum members: a misspelt one fails at import.
"""

from __future__ import annotations

import enum


class Fact(enum.Enum):
    """A fact, with what it means (for "X needs ...") and, where a stage may forbid it, how to
    fix a stage that comes after it. Members are ordered from the most basic."""

    KERAS = ("a Keras model", "")
    WRAPPED = ("pruning or clustering wrappers on the model",
               "the model still has pruning or clustering wrappers: add a strip stage before "
               "{kind}")
    TRAINED = ("fine-tuning after prune (tfmot applies the masks during training steps)", "")
    PRUNED = ("pruned weights", "{kind} trains the dense model and would undo the pruning: "
                                "move it before prune, or use finetune")
    FAKE_QUANT = ("quantization-aware training", "{kind} cannot change a model in "
                  "quantization-aware training: move it before qat")
    QUANTIZATION = ("a quantization plan", "keep a single quantize stage")
    TFLITE = ("a converted .tflite",
              "convert has already written the .tflite: move {kind} before convert")

    def __init__(self, meaning: str, forbidden_fix: str):
        self.meaning = meaning
        self.forbidden_fix = forbidden_fix


Facts = frozenset[Fact]

# What the model source gives the first stage.
INITIAL: Facts = frozenset({Fact.KERAS})
