"""A .tflite parsed once through LiteRT's flatbuffer schema (no TensorFlow needed): its ops,
the quantization step of its output, which activations are alive while each op runs (what
sets a microcontroller's tensor arena), and its sparse tensors decoded."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..errors import TFLiteError, first_line

ITEM_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1,
              "INT16": 2, "INT8": 1, "FLOAT64": 8, "UINT32": 4, "UINT16": 2}
INDEX_TYPES = {1: ("int32", np.int32), 2: ("uint16", np.uint16), 3: ("uint8", np.uint8)}
SPARSE_CSR = 1


@dataclass(frozen=True)
class OpMemory:
    """One op and the activation bytes alive while it runs: its inputs, its outputs, and
    every tensor made earlier that a later op still reads."""

    index: int
    op: str
    output: str  # the op's first output tensor, as the converter named it
    live_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TFLiteModel:
    """The file's bytes and its flatbuffer (`model`, LiteRT's object API), read once."""

    content: bytes
    model: Any

    @classmethod
    def read(cls, content: bytes, source: str = "the model") -> TFLiteModel:
        """Parse `content`; TFLiteError (naming `source`) if it is no readable .tflite."""
        if len(content) < 8 or content[4:8] != b"TFL3":
            raise TFLiteError("not a TFLite model (no TFL3 identifier)", source,
                              "give a .tflite file written by the TFLite converter")
        try:
            model = _compat.flatbuffer_utils().read_model_from_bytearray(bytearray(content))
        except Exception as exc:  # flatbuffers raises assorted errors on truncated data
            raise TFLiteError(f"cannot read the model ({first_line(exc)})", source,
                              "the file may be truncated; convert it again") from exc
        return cls(content, model)

    @classmethod
    def of_file(cls, path: Path) -> TFLiteModel:
        return cls.read(Path(path).read_bytes(), str(path))

    @property
    def graph(self) -> Any:
        """The main subgraph."""
        return self.model.subgraphs[0]

    def op_name(self, op: Any) -> str:
        return str(_compat.flatbuffer_utils().opcode_to_name(self.model, op.opcodeIndex))

    def type_name(self, tensor: Any) -> str:
        return str(_compat.flatbuffer_utils().type_to_name(tensor.type))

    def ops(self) -> list[str]:
        """The ops of the main graph, in execution order."""
        return [self.op_name(op) for op in self.graph.operators]

    def float_ops(self) -> list[tuple[str, str]]:
        """(op, output tensor) of each op writing a float32 tensor, other than the DEQUANTIZE
        ops that hand float out: in a quantized model, the ops left computing in float."""
        graph = self.graph
        found = []
        for op in graph.operators:
            name = self.op_name(op)
            for index in (int(t) for t in op.outputs):
                tensor = graph.tensors[index]
                if name != "DEQUANTIZE" and self.type_name(tensor) == "FLOAT32":
                    found.append((name, tensor_name(tensor)))
        return found

    def output_step(self) -> float | None:
        """The quantization step of the model's output: of the output tensor itself, or of
        the int8 tensor a final DEQUANTIZE reads; None for a float output computed in float."""
        graph = self.graph
        tensor = graph.outputs[0]
        producer = next((op for op in graph.operators if tensor in list(op.outputs)), None)
        if producer is not None and self.op_name(producer) == "DEQUANTIZE":
            tensor = producer.inputs[0]
        quantization = graph.tensors[tensor].quantization
        scales = None if quantization is None else quantization.scale
        return float(np.asarray(scales)[0]) if scales is not None and len(scales) else None

    def activation_memory(self) -> list[OpMemory]:
        """For each op, the bytes of the non-constant tensors alive while it runs: a tensor
        lives from the op that writes it (the graph's inputs from the start) to the last op
        that reads it (the graph's outputs to the end). TFLM's planner must fit the largest
        such set."""
        graph = self.graph
        ops = graph.operators
        constant = {i for i, t in enumerate(graph.tensors) if self.stores(t)}
        first: dict[int, int] = {int(t): 0 for t in graph.inputs}
        last: dict[int, int] = {int(t): len(ops) - 1 for t in graph.outputs}
        for index, op in enumerate(ops):
            for tensor in (int(t) for t in op.outputs):
                first.setdefault(tensor, index)
                last[tensor] = max(last.get(tensor, index), index)
            for tensor in (int(t) for t in op.inputs if t >= 0 and t not in constant):
                last[tensor] = max(last.get(tensor, index), index)
        sizes = {t: self.tensor_bytes(graph.tensors[t]) for t in first}
        result = []
        for index, op in enumerate(ops):
            live = sum(size for t, size in sizes.items() if first[t] <= index <= last.get(t, -1))
            result.append(OpMemory(index, self.op_name(op),
                                   tensor_name(graph.tensors[op.outputs[0]]), live))
        return result

    def data(self, tensor: Any) -> np.ndarray:
        """The bytes a tensor's buffer stores (empty for activations)."""
        data = self.model.buffers[tensor.buffer].data if self.stores(tensor) else None
        return np.zeros(0, np.uint8) if data is None else np.asarray(data, np.uint8)

    def stores(self, tensor: Any) -> bool:
        """Whether the file stores the tensor's values (a constant, not an activation)."""
        data = self.model.buffers[tensor.buffer].data if tensor.buffer else None
        return data is not None and len(data) > 0

    def tensor_bytes(self, tensor: Any) -> int:
        """The bytes a tensor's values take."""
        shape = [max(1, int(d)) for d in (tensor.shape if tensor.shape is not None else [])]
        return math.prod(shape) * ITEM_BYTES.get(self.type_name(tensor), 4)


def tensor_name(tensor: Any) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def densify(sparsity: Any, values: np.ndarray,
            shape: tuple[int, ...]) -> tuple[np.ndarray, str, int]:
    """A sparse tensor's stored `values` decoded from TFLite's sparsity parameters (traversal
    order, block map, dense/CSR dimensions): the dense array, the encoding in words, and the
    bytes its indices take."""
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


def _index_array(vector: Any, kind: int) -> np.ndarray:
    return np.asarray(vector.values, dtype=INDEX_TYPES[kind][1])


def _block_shape(shape: tuple[int, ...], block_map: list[int], sizes: list[int]) -> list[int]:
    block = [1] * len(shape)
    for dim, size in zip(block_map, sizes, strict=True):
        block[dim] = size
    return block
