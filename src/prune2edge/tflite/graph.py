"""A .tflite's op graph read through LiteRT's flatbuffer schema: its ops, the quantization
step of its output, and which activations are alive while each op runs (what sets a
microcontroller's tensor arena)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import _compat

ITEM_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "BOOL": 1,
              "INT16": 2, "INT8": 1, "FLOAT64": 8, "UINT32": 4, "UINT16": 2}


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


def _model(content: bytes) -> Any:
    return _compat.flatbuffer_utils().read_model_from_bytearray(bytearray(content))


def op_names(content: bytes) -> list[str]:
    """The ops of the main graph, in execution order."""
    model, fb = _model(content), _compat.flatbuffer_utils()
    return [fb.opcode_to_name(model, op.opcodeIndex) for op in model.subgraphs[0].operators]


def output_step(content: bytes) -> float | None:
    """The quantization step of the model's output: of the output tensor itself, or of the
    int8 tensor a final DEQUANTIZE reads; None for a float output computed in float."""
    model, fb = _model(content), _compat.flatbuffer_utils()
    graph = model.subgraphs[0]
    tensor = graph.outputs[0]
    producer = next((op for op in graph.operators if tensor in list(op.outputs)), None)
    if producer is not None and fb.opcode_to_name(model, producer.opcodeIndex) == "DEQUANTIZE":
        tensor = producer.inputs[0]
    quantization = graph.tensors[tensor].quantization
    scales = None if quantization is None else quantization.scale
    return float(np.asarray(scales)[0]) if scales is not None and len(scales) else None


def activation_memory(content: bytes) -> list[OpMemory]:
    """For each op, the bytes of the non-constant tensors alive while it runs: a tensor lives
    from the op that writes it (the graph's inputs from the start) to the last op that reads
    it (the graph's outputs to the end). TFLM's planner must fit the largest such set."""
    model, fb = _model(content), _compat.flatbuffer_utils()
    graph = model.subgraphs[0]
    ops = graph.operators
    constant = {i for i, t in enumerate(graph.tensors)
                if t.buffer and model.buffers[t.buffer].data is not None
                and len(model.buffers[t.buffer].data)}
    first: dict[int, int] = {int(t): 0 for t in graph.inputs}
    last: dict[int, int] = {int(t): len(ops) - 1 for t in graph.outputs}
    for index, op in enumerate(ops):
        for tensor in (int(t) for t in op.outputs):
            first.setdefault(tensor, index)
            last[tensor] = max(last.get(tensor, index), index)
        for tensor in (int(t) for t in op.inputs if t >= 0 and t not in constant):
            last[tensor] = max(last.get(tensor, index), index)
    sizes = {t: _bytes(graph.tensors[t], fb) for t in first}
    result = []
    for index, op in enumerate(ops):
        live = sum(size for t, size in sizes.items() if first[t] <= index <= last.get(t, -1))
        name = graph.tensors[op.outputs[0]].name
        result.append(OpMemory(index, fb.opcode_to_name(model, op.opcodeIndex),
                               name.decode() if isinstance(name, bytes) else str(name), live))
    return result


def _bytes(tensor: Any, fb: Any) -> int:
    shape = [max(1, int(d)) for d in (tensor.shape if tensor.shape is not None else [])]
    return math.prod(shape) * ITEM_BYTES.get(fb.type_to_name(tensor.type), 4)
