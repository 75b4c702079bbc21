"""`inspect` for Keras models (.keras, .h5, SavedModel): the weights as Keras holds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..keras import load as keras_load
from ..sizes import gzip_size
from ..sparsity.distinct import most_in_a_channel
from .info import ModelInfo, TensorInfo, entropy_bits

ROLES = {"kernel": "weights", "depthwise_kernel": "weights", "pointwise_kernel": "weights",
         "embeddings": "weights", "bias": "bias"}


def inspect_keras(path: Path) -> ModelInfo:
    model = keras_load.load(str(path), Path.cwd()).model
    tensors = []
    for layer in model.layers:
        for weight in layer.weights:
            values = np.asarray(weight.numpy())
            short = weight.name.split("/")[-1].split(":")[0]
            tensors.append(TensorInfo(
                name=weight.name, op=type(layer).__name__, role=ROLES.get(short, "constant"),
                shape=tuple(values.shape), dtype=str(values.dtype),
                zeros=float(np.mean(values == 0)) if values.size else 0.0, encoding="dense",
                bytes=values.nbytes, entropy_bits=entropy_bits(values),
                distinct=len(np.unique(values)),
                channel_distinct=most_in_a_channel(values, -1 if values.ndim > 1 else None)))
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    contents = [f.read_bytes() for f in files]
    return ModelInfo(str(path), "keras", sum(len(c) for c in contents),
                     sum(gzip_size(c) for c in contents), tensors,
                     [type(layer).__name__ for layer in model.layers])
