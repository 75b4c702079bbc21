"""Keras 3 layers with no tf_keras class of the same name: those `keras.applications` defines
for itself, and any a user registers. A translation takes the Keras 3 layer, its inputs
already translated (one tensor, or a list) and the tf_keras module, builds tf_keras layers on
them, copies the weights, and returns the output; the translated model is verified against
the original as a whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import ModelError

Translation = Callable[[Any, Any, Any], Any]  # (Keras 3 layer, inputs, tf_keras) -> outputs
_TRANSLATIONS: dict[Any, Translation] = {}


def register_keras3_translation(layer_class: type | str) -> Callable[[Translation],
                                                                     Translation]:
    """Decorator: translate Keras 3 layers of `layer_class` (the class, or its name) with the
    decorated function `(layer, inputs, tf_keras) -> outputs`. Registering a class again
    replaces its translation."""

    def register(translation: Translation) -> Translation:
        _TRANSLATIONS[layer_class] = translation
        return translation

    return register


def translation_for(layer: Any) -> Translation | None:
    """The registered translation for `layer`: by its class, then its qualified name (how the
    applications' layers are registered), then its class name."""
    cls = type(layer)
    for key in (cls, f"{cls.__module__}.{cls.__qualname__}", cls.__name__):
        if key in _TRANSLATIONS:
            return _TRANSLATIONS[key]
    return None


@register_keras3_translation("keras.src.applications.inception_resnet_v2.CustomScaleLayer")
def _custom_scale(layer: Any, inputs: Any, keras: Any) -> Any:
    """InceptionResNetV2's residual: inputs[0] + inputs[1] * scale."""
    base, residual = inputs
    scaled = keras.layers.Rescaling(float(layer.scale), name=f"{layer.name}_scale")(residual)
    return keras.layers.Add(name=layer.name)([base, scaled])


@register_keras3_translation("keras.src.applications.convnext.LayerScale")
def _layer_scale(layer: Any, inputs: Any, keras: Any) -> Any:
    """ConvNeXt's learned per-channel scale (x * gamma): a 1x1 depthwise convolution."""
    if len(inputs.shape) != 4:
        raise ModelError(f"layer {layer.name!r} (LayerScale) scales a rank-{len(inputs.shape)} "
                         "tensor; only images (rank 4) translate", layer.name,
                         "register your own translation (prune2edge.register_keras3_translation)")
    scale = keras.layers.DepthwiseConv2D(1, use_bias=False, name=layer.name)
    output = scale(inputs)
    scale.set_weights([np.asarray(layer.gamma).reshape(1, 1, -1, 1)])
    return output
