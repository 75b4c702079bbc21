"""What a model file stores, tensor by tensor: the records `inspect` fills for .tflite and
Keras files alike."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """One constant tensor of a model."""

    name: str
    op: str  # the op that consumes it, e.g. "FULLY_CONNECTED" or "CONV_2D (via DENSIFY)"
    role: str  # "weights", "bias" or "constant"
    shape: tuple[int, ...]
    dtype: str
    zeros: float  # share of exact zeros in the tensor the kernels compute with
    encoding: str  # "dense", or "sparse <dims>, <block>, <index types>"
    bytes: int  # bytes stored: values plus sparse index arrays
    entropy_bits: float  # zero-order entropy of the stored values times their count
    distinct: int  # distinct values the kernels compute with (clustering leaves few)
    channel_distinct: int  # the most in one channel (of per-channel scales; else `distinct`)
    kernel_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shape": list(self.shape)}


@dataclass(frozen=True)
class ModelInfo:
    path: str
    format: str  # "tflite" or "keras"
    file_bytes: int
    file_gzip_bytes: int
    tensors: list[TensorInfo]
    ops: list[str] = field(default_factory=list)
    int8: dict[str, Any] | None = None  # the build's per-layer int8 errors, when it has them
    micro: dict[str, Any] | None = None  # .tflite: activations per op, TFLM arena and flash

    @property
    def totals(self) -> dict[str, Any]:
        weights = [t for t in self.tensors if t.role == "weights"]
        count = sum(math.prod(t.shape) for t in weights)
        zeros = sum(t.zeros * math.prod(t.shape) for t in weights)
        return {
            "tensors": len(self.tensors),
            "weight_values": count,
            "weight_zeros": zeros / count if count else 0.0,
            "stored_bytes": sum(t.bytes for t in self.tensors),
            "entropy_bytes": math.ceil(sum(t.entropy_bits for t in self.tensors) / 8),
            "sparse_tensors": sum(t.encoding != "dense" for t in self.tensors),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "file_bytes": self.file_bytes,
                "file_gzip_bytes": self.file_gzip_bytes, "totals": self.totals,
                "ops": self.ops, "tensors": [t.to_dict() for t in self.tensors],
                **({"int8": self.int8} if self.int8 else {}),
                **({"micro": self.micro} if self.micro else {})}


def entropy_bits(values: np.ndarray) -> float:
    """Shannon entropy of the value distribution times the number of values: no coder that
    codes values one by one, independently, can store them in fewer bits."""
    if values.size == 0:
        return 0.0
    _, counts = np.unique(values, return_counts=True)
    p = counts / values.size
    return float(-(p * np.log2(p)).sum() * values.size)

