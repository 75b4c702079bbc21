"""What a model file stores, tensor by tensor: zeros, encoding, bytes, entropy, sparse kernels.

.tflite files are read through LiteRT's flatbuffer schema (`ai_edge_litert.tools.
flatbuffer_utils`), no TensorFlow needed. Sparse tensors are decoded from their TFLite
sparsity parameters, so the zero shares are those of the weights the runtime computes with.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TFLiteError, first_line
from .sizes import gzip_size

WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D"}
DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT8": np.int8, "UINT8": np.uint8,
          "INT16": np.int16, "INT32": np.int32, "INT64": np.int64}
INDEX_TYPES = {1: ("int32", np.int32), 2: ("uint16", np.uint16), 3: ("uint8", np.uint8)}
SPARSE_CSR = 1
CONVERTER_SPARSE_MIN = 0.3  # the converter encodes only tensors with at least this many zeros


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
                "ops": self.ops, "tensors": [t.to_dict() for t in self.tensors]}


def entropy_bits(values: np.ndarray) -> float:
    """Shannon entropy of the value distribution times the number of values: no coder that
    codes values one by one, independently, can store them in fewer bits."""
    if values.size == 0:
        return 0.0
    _, counts = np.unique(values, return_counts=True)
    p = counts / values.size
    return float(-(p * np.log2(p)).sum() * values.size)


def inspect(path: Path) -> ModelInfo:
    """Describe a .tflite, .keras, .h5 or SavedModel directory."""
    path = Path(path)
    if not path.exists():
        raise TFLiteError("model file not found", str(path),
                          "give a .tflite, .keras or .h5 file or a SavedModel directory")
    if path.is_file() and path.suffix == ".tflite":
        return inspect_tflite(path)
    from .keras_info import inspect_keras

    return inspect_keras(path)


def _read(path: Path) -> tuple[bytes, Any]:
    from ai_edge_litert.tools import flatbuffer_utils

    content = path.read_bytes()
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise TFLiteError("not a TFLite model (no TFL3 identifier)", str(path),
                          "give a .tflite file written by the TFLite converter")
    try:
        return content, flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    except Exception as exc:  # flatbuffers raises assorted errors on truncated data
        raise TFLiteError(f"cannot read the model ({first_line(exc)})", str(path),
                          "the file may be truncated; convert it again") from None


def inspect_tflite(path: Path) -> ModelInfo:
    from ai_edge_litert.tools import flatbuffer_utils

    content, model = _read(path)
    tensors = []
    ops = []
    try:
        for subgraph in model.subgraphs:
            consumers = _consumers(model, subgraph, flatbuffer_utils)
            ops += [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
                    for op in subgraph.operators]
            for index, tensor in enumerate(subgraph.tensors):
                data = model.buffers[tensor.buffer].data if tensor.buffer else None
                if data is None or len(data) == 0:
                    continue
                tensors.append(_describe(tensor, np.asarray(data, np.uint8),
                                         consumers.get(index, ("", -1)), flatbuffer_utils))
    except (IndexError, ValueError, TypeError) as exc:
        raise TFLiteError(f"the model is malformed ({first_line(exc)})", str(path),
                          "convert it again") from None
    return ModelInfo(str(path), "tflite", len(content), gzip_size(content), tensors, ops)


def _consumers(model: Any, subgraph: Any, fb: Any) -> dict[int, tuple[str, int]]:
    """tensor index -> (consuming op, input position); DENSIFY passes its consumer through."""
    direct: dict[int, tuple[str, int]] = {}
    densified: dict[int, int] = {}
    for op in subgraph.operators:
        name = fb.opcode_to_name(model, op.opcodeIndex)
        for position, tensor in enumerate(op.inputs):
            direct.setdefault(int(tensor), (name, position))
        if name == "DENSIFY":
            densified[int(op.inputs[0])] = int(op.outputs[0])
    for sparse, dense in densified.items():
        op, position = direct.get(dense, ("", -1))
        direct[sparse] = (f"{op} (via DENSIFY)", position)
    return direct


def _describe(tensor: Any, data: np.ndarray, consumer: tuple[str, int], fb: Any) -> TensorInfo:
    op, position = consumer
    base_op = op.split(" ")[0]
    role = "constant"
    if base_op in WEIGHT_OPS:
        role = {1: "weights", 2: "bias"}.get(position, "constant")
    dtype_name = fb.type_to_name(tensor.type)
    dtype = DTYPES.get(dtype_name)
    shape = tuple(int(d) for d in tensor.shape)
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
    if dtype is None:  # e.g. INT4 or strings: report bytes only
        return TensorInfo(name, op, role, shape, dtype_name, 0.0, "dense", len(data),
                          entropy_bits(data), "")
    values = data.view(dtype)
    if tensor.sparsity is not None:
        dense, encoding, index_bytes = _densify(tensor.sparsity, values, shape)
    else:
        dense, encoding, index_bytes = values.reshape(shape), "dense", 0
    zeros = float(np.mean(dense == _zero_points(tensor, dense)))
    info = TensorInfo(name, op, role, shape, dtype_name.lower(), zeros, encoding,
                      len(data) + index_bytes, entropy_bits(values))
    return TensorInfo(**{**asdict(info), "kernel_note": kernel_note(info)})


def _zero_points(tensor: Any, dense: np.ndarray) -> Any:
    """What a stored value of zero is: 0, or the zero point of asymmetric quantization."""
    q = tensor.quantization
    if q is None or q.zeroPoint is None or len(q.zeroPoint) == 0 or not np.any(q.zeroPoint):
        return 0
    points = np.asarray(q.zeroPoint)
    if points.size == 1:
        return points[0]
    shape = [1] * dense.ndim
    shape[q.quantizedDimension] = points.size
    return points.reshape(shape)


def _index_array(vector: Any, kind: int) -> np.ndarray:
    return np.asarray(vector.values, dtype=INDEX_TYPES[kind][1])


def _densify(sparsity: Any, values: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray,
                                                                                   str, int]:
    """Decode TFLite's sparse format (traversal order, block map, dense/CSR dimensions)."""
    order = [int(d) for d in sparsity.traversalOrder]
    block_map = [int(d) for d in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    metas = sparsity.dimMetadata
    rank = len(shape)
    block_sizes = [int(metas[rank + i].denseSize) for i in range(len(block_map))]
    expanded = list(shape)
    for dim, size in zip(block_map, block_sizes, strict=True):
        expanded[dim] //= size
    expanded += block_sizes
    positions = np.zeros(1, np.int64)
    coords = np.zeros((1, len(order)), np.int64)
    index_bytes, formats, index_types = 0, [], set()
    for level, dim in enumerate(order):
        meta = metas[level]
        if meta.format == SPARSE_CSR:
            segments = _index_array(meta.arraySegments, meta.arraySegmentsType)
            indices = _index_array(meta.arrayIndices, meta.arrayIndicesType)
            index_bytes += segments.nbytes + indices.nbytes
            index_types |= {INDEX_TYPES[meta.arraySegmentsType][0],
                            INDEX_TYPES[meta.arrayIndicesType][0]}
            starts, ends = segments[positions], segments[positions + 1]
            counts = (ends - starts).astype(np.int64)
            new_positions = np.repeat(starts - np.cumsum(counts) + counts, counts) + \
                np.arange(counts.sum())
            coords = np.repeat(coords, counts, axis=0)
            coords[:, dim] = indices[new_positions]
            positions = new_positions.astype(np.int64)
            formats.append("CSR")
        else:
            size = int(meta.denseSize)
            coords = np.repeat(coords, size, axis=0)
            coords[:, dim] = np.tile(np.arange(size), len(positions))
            positions = (positions[:, None] * size + np.arange(size)).ravel()
            formats.append("dense")
    blocked = np.zeros(expanded, values.dtype)
    blocked[tuple(coords.T)] = values[positions]
    dense = blocked
    if block_map:  # fold the block dimensions back into the dimensions they tile
        axes = []
        for dim in range(rank):
            axes.append(dim)
            if dim in block_map:
                axes.append(rank + block_map.index(dim))
        dense = blocked.transpose(axes).reshape(shape)
    block = "x".join(str(s) for s in _block_shape(shape, block_map, block_sizes))
    blocks = f" {block} blocks" if block_map else ""
    encoding = f"sparse {'/'.join(formats)}{blocks} ({'/'.join(sorted(index_types))} idx)"
    return dense, encoding, index_bytes


def _block_shape(shape: tuple[int, ...], block_map: list[int], sizes: list[int]) -> list[int]:
    block = [1] * len(shape)
    for dim, size in zip(block_map, sizes, strict=True):
        block[dim] = size
    return block


def kernel_note(t: TensorInfo) -> str:
    """Whether a sparse kernel could skip this tensor's zeros, and why not."""
    if t.role != "weights":
        return ""
    op = t.op.split(" ")[0]
    if "DENSIFY" in t.op:
        return ("densified when the model loads: dense kernels run it, only the file is smaller"
                + ("; zeros in 1x4 (float) or 1x16 (int8) blocks would let the sparse kernel "
                   "run it" if op == "FULLY_CONNECTED" else ""))
    if t.encoding != "dense":
        if op == "FULLY_CONNECTED":
            return ("the builtin sparse FULLY_CONNECTED kernel runs it and skips the zero blocks "
                    "(XNNPACK leaves this op to the builtin kernels)")
        return f"stored sparse for {op}, which has no sparse kernel"
    if t.zeros < CONVERTER_SPARSE_MIN:
        return f"{t.zeros:.0%} zeros: too few for the sparse encoding (>= 30%)"
    if op == "FULLY_CONNECTED":
        block = "1x4" if t.dtype == "float32" else "1x16"
        keras_block = "[4, 1]" if t.dtype == "float32" else "[16, 1]"
        return (f"the builtin sparse FULLY_CONNECTED kernel needs the zeros in {block} blocks "
                f"(prune with block_size = {keras_block}: Keras kernels are [in, out], TFLite "
                "stores [out, in]); scattered zeros only make the file smaller")
    if op == "CONV_2D":
        pointwise = len(t.shape) == 4 and t.shape[1:3] == (1, 1)
        if pointwise and t.dtype == "float32" and t.zeros >= 2 / 3:
            return ("XNNPACK sparse inference could use this 1x1 conv (float, >= 2/3 zeros) in "
                    "a Fast-Sparse-ConvNet-shaped model, on builds with sparse inference on")
        kernel = "x".join(str(d) for d in t.shape[1:3])
        return (f"no sparse kernel for a {kernel} {t.dtype} CONV_2D (XNNPACK's sparse path "
                "takes float 1x1 convs with >= 2/3 zeros)")
    return f"no sparse kernel for {op}"
