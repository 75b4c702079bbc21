"""The tensor arena TensorFlow Lite Micro allocates for a .tflite, predicted from the flatbuffer
alone (no tflite-micro needed, so on any platform and in a fraction of a second).

TFLM's arena has two parts. The head holds the activations: TFLM's greedy memory planner
places every non-constant tensor (and the scratch buffers kernels ask for) at the lowest
offset free for its lifetime, largest first; `plan_head` replays that algorithm
(`greedy_memory_planner.cc`, lifetimes as `micro_allocation_info.cc` marks them). The tail
holds what lives as long as the model, allocated downwards in a fixed order, each piece
aligned: the framework's own objects, a TfLiteEvalTensor per tensor, a NodeAndRegistration
per op, each op's builtin parameters, each kernel's OpData (Init) and per-channel output
multipliers and shifts (Prepare), scratch buffer handles, then the graph's input and output
tensors with their quantization. `plan_tail` replays that sequence with the struct sizes of
the tflite-micro build prune2edge pins, on a 64-bit host (a 32-bit microcontroller's
pointers and structs are smaller, so its tail is smaller than this figure).

Measured against TFLM's recording allocator: equal to the byte on 72 models (single ops of
every kind below with int8 and float I/O, the MNIST CNNs, MLP, DS-CNN, a MobileNet at
96x96; `tests/test_arena.py` checks a set of them). An op not in `KERNELS` is planned with
no persistent data and named in `unmodelled`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .model import TFLiteModel

ALIGNMENT = 16  # MicroArenaBufferAlignment()
FRAMEWORK = 488  # allocators, planner, subgraph allocations: bytes of a model with no op data
EVAL_TENSOR, NODE, TENSOR, AFFINE = 24, 64, 64, 24  # sizeof on a 64-bit host
POINTER = 8


@dataclass(frozen=True)
class Kernel:
    """What TFLM keeps for one op of a kind: its OpData (bytes a kernel's Init asks for) and
    its parsed builtin options (bytes, alignment)."""

    op_data: int = 0
    options: int = 0
    options_align: int = 4


KERNELS = {
    "CONV_2D": Kernel(80, 28), "DEPTHWISE_CONV_2D": Kernel(80, 28),
    "FULLY_CONNECTED": Kernel(72, 32, 8), "ADD": Kernel(60, 8), "MUL": Kernel(36, 4),
    "CONCATENATION": Kernel(80, 8), "MAX_POOL_2D": Kernel(32, 40),
    "AVERAGE_POOL_2D": Kernel(32, 40), "MEAN": Kernel(44, 1, 1), "RESHAPE": Kernel(0, 36),
    "SOFTMAX": Kernel(80, 4), "RELU": Kernel(28), "RELU6": Kernel(8), "LOGISTIC": Kernel(16),
    "PAD": Kernel(56), "QUANTIZE": Kernel(32), "DEQUANTIZE": Kernel(32),
}


@dataclass(frozen=True)
class PredictedArena:
    """TFLM's arena for a model, predicted: `head` (planned activations and scratch),
    `tail` (persistent data), and the op kinds whose persistent data is not modelled (the
    tail then leaves them out)."""

    head: int
    tail: int
    unmodelled: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.head + self.tail

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total, "unmodelled": list(self.unmodelled)}


def predict(model: TFLiteModel) -> PredictedArena:
    """The arena TFLM will allocate for `model`'s main graph."""
    ops = model.ops()
    unmodelled = tuple(sorted({op for op in ops if op not in KERNELS}))
    return PredictedArena(plan_head(model), plan_tail(model), unmodelled)


def _align(size: int) -> int:
    return -(-size // ALIGNMENT) * ALIGNMENT


def _elements(tensor: Any) -> int:
    return math.prod(int(d) for d in (tensor.shape if tensor.shape is not None else []))


def _scratch(model: TFLiteModel, op: Any, name: str) -> list[int]:
    """The bytes of the scratch buffers the op's kernel asks for in the arena."""
    if name != "MEAN":
        return []
    tensors = model.graph.tensors
    source, axis = tensors[op.inputs[0]], tensors[op.inputs[1]]
    common = [4 * len(source.shape), 4 * _elements(axis)]
    if model.type_name(source) in ("INT8", "INT16"):  # an int32 accumulator per output
        return [4 * _elements(tensors[op.outputs[0]]), *common]
    return common


def plan_head(model: TFLiteModel) -> int:
    """The head TFLM's greedy planner lays out: each buffer (aligned) lives from the op that
    writes it (graph inputs: from the start) to the last op that reads it (graph outputs:
    to the end); largest first (ties: the later buffer first), each at the lowest offset
    that overlaps no live buffer placed before it."""
    graph = model.graph
    first: dict[int, int] = {int(t): 0 for t in graph.inputs}
    last: dict[int, int] = dict(first)
    scratch: list[tuple[int, int, int]] = []
    for scope, op in enumerate(graph.operators, start=1):
        for tensor in (int(t) for t in op.outputs):
            first.setdefault(tensor, scope)
            last[tensor] = scope
        for tensor in (int(t) for t in op.inputs if t >= 0):
            last[tensor] = max(last.get(tensor, scope), scope)
        scratch += [(size, scope, scope) for size in _scratch(model, op, model.op_name(op))]
    end = len(graph.operators)
    for tensor in (int(t) for t in graph.outputs):
        first.setdefault(tensor, end)
        last[tensor] = end
    buffers = [(model.tensor_bytes(tensor), first[i], last[i])
               for i, tensor in enumerate(graph.tensors)
               if i in first and not model.stores(tensor)]
    buffers = [(_align(size), begin, end) for size, begin, end in buffers + scratch if size]
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last) by offset
    for index in sorted(range(len(buffers)), key=lambda i: (-buffers[i][0], -i)):
        size, begin, end_ = buffers[index]
        offset = 0
        for other, other_size, other_first, other_last in placed:
            if other_first > end_ or begin > other_last:
                continue  # not alive at the same time
            if other - offset >= size:
                break
            offset = max(offset, other + other_size)
        at = next((k for k, entry in enumerate(placed) if entry[0] > offset), len(placed))
        placed.insert(at, (offset, size, begin, end_))
    return max((offset + size for offset, size, _, _ in placed), default=0)


def _channels(model: TFLiteModel, op: Any, name: str) -> int:
    """The output channels a kernel keeps a multiplier and a shift for (0: none)."""
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return 0
    filters = model.graph.tensors[op.inputs[1]]
    if name == "CONV_2D":
        return int(filters.shape[0])
    if name == "DEPTHWISE_CONV_2D":
        return int(filters.shape[-1])
    # FULLY_CONNECTED: only for per-channel quantized weights
    scales = None if filters.quantization is None else filters.quantization.scale
    count = 0 if scales is None else len(scales)
    return count if count > 1 else 0


def plan_tail(model: TFLiteModel) -> int:
    """The tail TFLM allocates, replayed allocation by allocation (each placed below the
    last and aligned down)."""
    graph = model.graph
    position = -FRAMEWORK

    def allocate(size: int, alignment: int) -> None:
        nonlocal position
        position = (position - size) // alignment * alignment

    allocate(EVAL_TENSOR * len(graph.tensors), POINTER)
    allocate(NODE * len(graph.operators), POINTER)
    kinds = [(op, model.op_name(op)) for op in graph.operators]
    for _, name in kinds:  # builtin options, parsed op by op
        kernel = KERNELS.get(name, Kernel())
        if kernel.options:
            allocate(kernel.options, kernel.options_align)
    for _, name in kinds:  # each kernel's Init
        if KERNELS.get(name, Kernel()).op_data:
            allocate(KERNELS[name].op_data, ALIGNMENT)
    for op, name in kinds:  # each kernel's Prepare: per-channel multipliers and shifts
        channels = _channels(model, op, name)
        if channels:
            allocate(4 * channels, ALIGNMENT)
            allocate(4 * channels, ALIGNMENT)
    handles = sum(len(_scratch(model, op, name)) for op, name in kinds)
    if handles:
        allocate(POINTER * handles, POINTER)
    for group in (graph.inputs, graph.outputs):
        allocate(POINTER * len(group), ALIGNMENT)
        for index in group:
            allocate(TENSOR, POINTER)
            quantization = graph.tensors[index].quantization
            scales = None if quantization is None else quantization.scale
            if scales is not None and len(scales):
                allocate(AFFINE, POINTER)
                allocate(4 + 4 * len(scales), 4)  # the zero points (a TfLiteIntArray)
    return -position
