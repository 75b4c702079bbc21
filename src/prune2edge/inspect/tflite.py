""".tflite files read through LiteRT's flatbuffer schema (no TensorFlow needed). Sparse tensors
are decoded from their TFLite sparsity parameters, so the zero shares are those of the weights
the runtime computes with."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..errors import TFLiteError, first_line
from ..sizes import gzip_size
from .info import ModelInfo, TensorInfo, entropy_bits
from .notes import kernel_note

WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D"}
DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT8": np.int8, "UINT8": np.uint8,
          "INT16": np.int16, "INT32": np.int32, "INT64": np.int64}
INDEX_TYPES = {1: ("int32", np.int32), 2: ("uint16", np.uint16), 3: ("uint8", np.uint8)}
SPARSE_CSR = 1


def _read(path: Path) -> tuple[bytes, Any]:
    flatbuffer_utils = _compat.flatbuffer_utils()
    content = path.read_bytes()
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise TFLiteError("not a TFLite model (no TFL3 identifier)", str(path),
                          "give a .tflite file written by the TFLite converter")
    try:
        return content, flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    except Exception as exc:  # flatbuffers raises assorted errors on truncated data
        raise TFLiteError(f"cannot read the model ({first_line(exc)})", str(path),
                          "the file may be truncated; convert it again") from exc


def inspect_tflite(path: Path) -> ModelInfo:
    flatbuffer_utils = _compat.flatbuffer_utils()
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
                          "convert it again") from exc
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
