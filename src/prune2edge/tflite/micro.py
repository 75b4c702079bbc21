"""A .tflite on TensorFlow Lite Micro (the `tflite-micro` package's interpreter, the kernels a
microcontroller build links): does it run there, with which outputs, and how much RAM the
tensor arena needs, as TFLM's recording allocator counts it.

Needs only tflite-micro and NumPy (no TensorFlow)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat, native_log
from ..data.stream import Stream, batches
from ..errors import TFLiteError
from .model import OpMemory, TFLiteModel
from .runner import check_input, dequantize, model_file, quantize
from .strip import strip_names

ARENA_OFFERED = 64 << 20  # bytes offered while measuring; the allocator records what it used
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
_ALLOCATION = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


@dataclass(frozen=True)
class Arena:
    """The tensor arena TFLM allocated (bytes): `head` holds the activations its memory
    planner laid out, `tail` what stays for the model's lifetime (tensor and node structs,
    per-channel quantization data); `smallest` is the least `arena_size` it accepts."""

    total: int
    head: int
    tail: int
    smallest: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class MicroRunner:
    """TFLM's interpreter for one model, opened with a generous arena."""

    def __init__(self, content: bytes, source: str, arena_size: int = ARENA_OFFERED):
        self.content, self.source = content, source
        self.interpreter = _open(content, source, arena_size)
        self.input = self.interpreter.get_input_details(0)
        self.output = self.interpreter.get_output_details(0)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input["shape"][1:])

    def predict(self, x: np.ndarray | Stream, batch_size: int = 256,
                progress: Any = None) -> np.ndarray:
        """Float outputs for every sample of `x`, one invocation each (TFLM runs batch 1);
        `progress.advance` is called after each batch."""
        check_input(self, x, self.source)
        outputs = []
        for chunk in batches(x, batch_size):
            for sample in chunk:
                self.interpreter.set_input(quantize(sample[None], *_params(self.input)), 0)
                self.interpreter.invoke()
                outputs.append(dequantize(self.interpreter.get_output(0), *_params(self.output))[0])
            if progress is not None:
                progress.advance(len(chunk))
        return np.asarray(outputs, np.float32)

    def recorded(self) -> dict[str, int]:
        """The arena's total, head and tail bytes as the recording allocator counts them
        after one invocation."""
        sample = np.zeros((1, *self.input_shape), np.float32)
        self.interpreter.set_input(quantize(sample, *_params(self.input)), 0)
        self.interpreter.invoke()
        with native_log.collected() as lines:
            self.interpreter.print_allocations()
        recorded = {kind: int(n) for line in lines for kind, n in _ALLOCATION.findall(line)}
        if set(recorded) != {"total", "head", "tail"}:
            raise TFLiteError("TFLM printed no arena allocation", self.source,
                              "check the tflite-micro version (prune2edge[micro] pins one)")
        return recorded

    def arena(self) -> Arena:
        """What the recording allocator used, and the smallest arena the interpreter
        accepts, found by bisection."""
        recorded = self.recorded()
        return Arena(recorded["total"], recorded["head"], recorded["tail"],
                     smallest_arena(self.content, recorded["total"]))


def smallest_arena(content: bytes, recorded: int) -> int:
    """The least `arena_size` TFLM's interpreter accepts for `content`, by bisection near the
    recorded total (the arena's start is aligned, so it can differ by a few bytes)."""
    with model_file(content) as path:
        high = recorded
        while not _fits(path, high):
            high += max(64, high // 8)
        step = 64
        low = high - step
        while low > 0 and _fits(path, low):
            high, step = low, step * 2
            low = high - step
        low = max(low, 0)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if _fits(path, middle) else (middle, high)
    return high


# TFLM's interpreter can crash (abort, segfault) rather than fail, on a too-small arena or an
# op it mishandles, so a model is first opened (and run once) in a child process.
_PROBE = """
import sys, numpy as np
from tflite_micro import runtime
interpreter = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(),
                                             arena_size=int(sys.argv[2]))
if sys.argv[3] == "invoke":
    details = interpreter.get_input_details(0)
    interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
    interpreter.invoke()
"""


def _probe(path: Path, arena_size: int, invoke: bool = False) -> Any:
    return subprocess.run([sys.executable, "-c", _PROBE, str(path), str(arena_size),
                           "invoke" if invoke else "open"],
                          capture_output=True, text=True, timeout=600, check=False)


def _fits(path: Path, arena_size: int) -> bool:
    return _probe(path, arena_size).returncode == 0


def _open(content: bytes, source: str, arena_size: int) -> Any:
    """The interpreter, once a child process has opened and run the model; otherwise one clear
    error naming the op TFLM has no kernel for, or saying that it crashed."""
    with model_file(content) as path:
        probe = _probe(path, arena_size, invoke=True)
    if probe.returncode != 0:
        lines = probe.stderr.splitlines()
        missing = [m.group(1) for line in lines if (m := _MISSING_OP.search(line))]
        if missing:
            raise TFLiteError(f"TensorFlow Lite Micro has no kernel for {missing[0]}", source,
                              "DENSIFY comes from the sparse encoding: convert with sparse = "
                              '"off" (a validate stage with runtime = "both" does that)'
                              if missing[0] == "DENSIFY" else "replace the layer that becomes "
                              "this op, or keep the model on LiteRT")
        ops = ", ".join(sorted(set(TFLiteModel.read(content, source).ops())))
        if probe.returncode < 0:
            raise TFLiteError("TensorFlow Lite Micro crashed running the model (signal "
                              f"{signal.Signals(-probe.returncode).name})", source,
                              f"one of its ops is not supported there: {ops}")
        detail = next((line.strip() for line in lines if line.strip()
                       and not line.startswith(("Traceback", "  "))), "no message")
        raise TFLiteError(f"TensorFlow Lite Micro cannot run the model ({detail})", source,
                          f"its ops: {ops}")
    with native_log.discarded():
        return _compat.tflm().runtime.Interpreter.from_bytes(content, arena_size=arena_size)


def _params(details: dict[str, Any]) -> tuple[Any, float, int]:
    """(dtype, scale, zero point) of a TFLM tensor (scale 0 when it is not quantized)."""
    params = details["quantization_parameters"]
    scales, zero_points = params["scales"], params["zero_points"]
    return (details["dtype"], float(scales[0]) if len(scales) else 0.0,
            int(zero_points[0]) if len(zero_points) else 0)


def board_memory(runner: MicroRunner,
                 activations: list[OpMemory] | None = None) -> dict[str, Any]:
    """The RAM and flash a board needs for the runner's model: TFLM's arena, the file (and
    the file without names), and the op with the most activation bytes alive (from
    `activations`, the model's `activation_memory`, when already read)."""
    content = runner.content
    if activations is None:
        activations = TFLiteModel.read(content).activation_memory()
    return {"arena": runner.arena().to_dict(), "flash": flash(content),
            "peak_activations": max(activations, key=lambda op: op.live_bytes).to_dict()}


def flash(content: bytes) -> dict[str, int]:
    """The flash a board stores the model in: the file, and the file without names (what
    `convert.strip_names` writes). Needs no TFLM."""
    return {"file_bytes": len(content), "stripped_bytes": len(strip_names(content))}
