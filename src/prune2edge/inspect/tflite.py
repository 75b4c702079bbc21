""".tflite files read through LiteRT's flatbuffer schema (no TensorFlow needed). Sparse tensors
are decoded from their TFLite sparsity parameters, so the zero shares are those of the weights
the runtime computes with."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TFLiteError, first_line
from ..sizes import gzip_size
from ..sparsity.distinct import most_in_a_channel
from ..tflite.model import TFLiteModel, densify, tensor_name
from .info import ModelInfo, TensorInfo, entropy_bits
from .notes import kernel_note

WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D"}
DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT8": np.int8, "UINT8": np.uint8,
          "INT16": np.int16, "INT32": np.int32, "INT64": np.int64}


def inspect_tflite(path: Path) -> ModelInfo:
    view = TFLiteModel.of_file(path)
    tensors, ops = tensors_and_ops(view, str(path))
    content = view.content
    return ModelInfo(str(path), "tflite", len(content), gzip_size(content), tensors, ops)


def tensors_and_ops(view: TFLiteModel, where: str) -> tuple[list[TensorInfo], list[str]]:
    """Every constant tensor of a .tflite (what it stores and what its kernels compute with)
    and every op, in order; TFLiteError naming `where` for a malformed file."""
    tensors = []
    ops = []
    try:
        for subgraph in view.model.subgraphs:
            consumers = _consumers(view, subgraph)
            ops += [view.op_name(op) for op in subgraph.operators]
            for index, tensor in enumerate(subgraph.tensors):
                data = view.data(tensor)
                if len(data):
                    tensors.append(_describe(view, tensor, data, consumers.get(index, ("", -1))))
    except (IndexError, ValueError, TypeError) as exc:
        raise TFLiteError(f"the model is malformed ({first_line(exc)})", where,
                          "convert it again") from exc
    return tensors, ops


def _consumers(view: TFLiteModel, subgraph: Any) -> dict[int, tuple[str, int]]:
    """tensor index -> (consuming op, input position); DENSIFY passes its consumer through."""
    direct: dict[int, tuple[str, int]] = {}
    densified: dict[int, int] = {}
    for op in subgraph.operators:
        name = view.op_name(op)
        for position, tensor in enumerate(op.inputs):
            direct.setdefault(int(tensor), (name, position))
        if name == "DENSIFY":
            densified[int(op.inputs[0])] = int(op.outputs[0])
    for sparse, dense in densified.items():
        op, position = direct.get(dense, ("", -1))
        direct[sparse] = (f"{op} (via DENSIFY)", position)
    return direct


def _describe(view: TFLiteModel, tensor: Any, data: np.ndarray,
              consumer: tuple[str, int]) -> TensorInfo:
    op, position = consumer
    base_op = op.split(" ")[0]
    role = "constant"
    if base_op in WEIGHT_OPS:
        role = {1: "weights", 2: "bias"}.get(position, "constant")
    dtype_name = view.type_name(tensor)
    dtype = DTYPES.get(dtype_name)
    shape = tuple(int(d) for d in tensor.shape)
    name = tensor_name(tensor)
    if dtype is None:  # e.g. INT4 or strings: report bytes only
        distinct = len(np.unique(data))
        return TensorInfo(name, op, role, shape, dtype_name, 0.0, "dense", len(data),
                          entropy_bits(data), distinct, distinct)
    values = data.view(dtype)
    if tensor.sparsity is not None:
        dense, encoding, index_bytes = densify(tensor.sparsity, values, shape)
    else:
        dense, encoding, index_bytes = values.reshape(shape), "dense", 0
    zeros = float(np.mean(dense == _zero_points(tensor, dense)))
    q = tensor.quantization
    per_channel = q is not None and q.scale is not None and len(q.scale) > 1
    info = TensorInfo(name, op, role, shape, dtype_name.lower(), zeros, encoding,
                      len(data) + index_bytes, entropy_bits(values), len(np.unique(dense)),
                      most_in_a_channel(dense, q.quantizedDimension if per_channel else None))
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
