"""Keras 3 models -> equivalent tf_keras models, so tfmot can prune them: layers rebuilt from
their configs (`translate.py`), operations recorded without a layer rebuilt from tf_keras
layers (`ops.py`), and the layers `keras.applications` or a user defines translated by
registered functions (`layers.py`)."""

from .layers import register_keras3_translation
from .translate import (
    is_keras3_model,
    load,
    saved_by_keras3,
    translate_model,
)

__all__ = ["is_keras3_model", "load", "register_keras3_translation",
           "saved_by_keras3", "translate_model"]
