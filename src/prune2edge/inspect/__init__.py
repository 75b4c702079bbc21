"""`prune2edge inspect`: what a model file stores, tensor by tensor (zeros, encoding, bytes,
entropy) and which sparse kernels could use it. .tflite files need no TensorFlow."""

from __future__ import annotations

from pathlib import Path

from ..errors import TFLiteError
from .info import ModelInfo, TensorInfo, entropy_bits
from .tflite import inspect_tflite

__all__ = ["ModelInfo", "TensorInfo", "entropy_bits", "inspect", "inspect_tflite"]


def inspect(path: Path) -> ModelInfo:
    """Describe a .tflite, .keras, .h5 or SavedModel directory."""
    path = Path(path)
    if not path.exists():
        raise TFLiteError("model file not found", str(path),
                          "give a .tflite, .keras or .h5 file or a SavedModel directory")
    if path.is_file() and path.suffix == ".tflite":
        return inspect_tflite(path)
    from .keras import inspect_keras

    return inspect_keras(path)
