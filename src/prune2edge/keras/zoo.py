"""The smallest member of every `tf_keras.applications` image-classification family, built with
random weights (nothing is downloaded) at a small input: what structural pruning is tested and
benchmarked on."""

from __future__ import annotations

from typing import Any

from .. import _compat

# family -> (application, smallest input side it accepts without pretrained weights)
FAMILIES: dict[str, tuple[str, int]] = {
    "MobileNet": ("MobileNet", 32),
    "MobileNetV2": ("MobileNetV2", 32),
    "MobileNetV3": ("MobileNetV3Small", 32),
    "EfficientNet": ("EfficientNetB0", 32),
    "EfficientNetV2": ("EfficientNetV2B0", 32),
    "ResNet": ("ResNet50", 32),
    "ResNetV2": ("ResNet50V2", 32),
    "ResNetRS": ("ResNetRS50", 32),
    "DenseNet": ("DenseNet121", 32),
    "VGG": ("VGG16", 32),
    "Xception": ("Xception", 71),
    "InceptionV3": ("InceptionV3", 75),
    "InceptionResNetV2": ("InceptionResNetV2", 75),
    "NASNet": ("NASNetMobile", 32),
    "RegNetX": ("RegNetX002", 32),
    "RegNetY": ("RegNetY002", 32),
    "ConvNeXt": ("ConvNeXtTiny", 32),
}


def build(family: str, classes: int = 10, side: int | None = None) -> Any:
    """The family's smallest member with random weights, `classes` outputs and inputs of
    side x side x 3 (default: the smallest side it accepts)."""
    application, smallest = FAMILIES[family]
    factory = getattr(_compat.keras().applications, application)
    return factory(weights=None, input_shape=(side or smallest, side or smallest, 3),
                   classes=classes)
