"""Run a .tflite on the CPU with LiteRT: batched outputs, latency percentiles, kernels used.

Needs only ai-edge-litert and NumPy (no TensorFlow), so it runs on the target device too.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import _compat
from ..data.stream import Stream, batches
from ..errors import TFLiteError, first_line


@dataclass(frozen=True)
class Latency:
    """Wall time of single invocations (batch 1) after warm-up, in milliseconds."""

    p50: float
    p90: float
    p99: float
    mean: float
    stdev: float
    runs: int
    warmup: int
    threads: int
    batch: int
    kernels: str
    interpreters: int  # fresh interpreter instances the runs were spread over
    p50_range: list[float]  # the lowest and highest p50 of a single instance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Runner(Protocol):
    """What both runtimes offer for one model: LiteRT's `TFLiteRunner` and TensorFlow Lite
    Micro's `MicroRunner`."""

    @property
    def input_shape(self) -> tuple[int, ...]: ...

    def predict(self, x: np.ndarray | Stream, batch_size: int = 256,
                progress: Any = None) -> np.ndarray: ...


def check_input(runner: Runner, x: np.ndarray | Stream, source: str) -> None:
    """TFLiteError unless `x`'s samples have the model's input shape."""
    if tuple(x.shape[1:]) != runner.input_shape:
        raise TFLiteError(f"the data's samples have shape {tuple(x.shape[1:])} but the "
                          f"model's input is {runner.input_shape}", source,
                          "use data shaped for this model")


class TFLiteRunner:
    """A LiteRT interpreter for one model file.

    XNNPACK (LiteRT's default CPU delegate) is tried first; where it refuses the model (it
    does refuse sparse int8 FULLY_CONNECTED) the builtin kernels run it, and `fallback` says
    why.
    """

    def __init__(self, path: Path, threads: int = 1):
        self.path = Path(path)
        self.threads = threads
        if not self.path.is_file():
            raise TFLiteError("model file not found", str(self.path), "give a .tflite file")
        self.fallback: str | None = None
        self.interpreter = self._open()
        self.kernels = describe_kernels(*self.kernel_split())
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise TFLiteError(f"the model has {len(inputs)} inputs and {len(outputs)} outputs",
                              str(self.path), "prune2edge validates single-input classifiers")
        self.input, self.output = inputs[0], outputs[0]

    def _open(self, builtin: bool = False) -> Any:
        interpreter_cls, resolver = _compat.litert()
        kind = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES if builtin else resolver.AUTO
        try:
            interpreter = interpreter_cls(model_path=str(self.path), num_threads=self.threads,
                                          experimental_op_resolver_type=kind)
        except ValueError as exc:
            raise TFLiteError(f"not a valid .tflite model ({first_line(exc)})", str(self.path),
                              "rebuild it; the file may be truncated or not a TFLite model") \
                from exc
        try:
            interpreter.allocate_tensors()
        except RuntimeError as exc:
            if builtin:
                raise TFLiteError(f"LiteRT cannot run the model ({first_line(exc)})",
                                  str(self.path), "check the ops it uses with inspect") from exc
            self.fallback = f"XNNPACK refused the model: {first_line(exc)}"
            return self._open(builtin=True)
        return interpreter

    def kernel_split(self) -> tuple[list[str], list[str]]:
        """(ops XNNPACK runs, ops the builtin kernels run), from the delegated graph.

        A DELEGATE node replaces the ops between its input and output tensors; an op that
        feeds the delegate's inputs or reads its outputs ran outside it.
        """
        ops = _compat.litert_ops(self.interpreter)
        regular = [op for op in ops if op["op_name"] != "DELEGATE"]
        inside: set[int] = set()
        for delegate in (op for op in ops if op["op_name"] == "DELEGATE"):
            ins, outs = set(delegate["inputs"].tolist()), set(delegate["outputs"].tolist())
            produced: set[int] = set()
            for op in regular:
                op_ins, op_outs = set(op["inputs"].tolist()), set(op["outputs"].tolist())
                if op["index"] in inside or op_outs & ins or op_ins & outs:
                    continue
                if all(t < 0 or t in ins or t in produced for t in op_ins):
                    inside.add(op["index"])
                    produced |= op_outs
        xnnpack = [op["op_name"] for op in regular if op["index"] in inside]
        builtin = [op["op_name"] for op in regular if op["index"] not in inside]
        return xnnpack, builtin

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input["shape"][1:])

    def predict(self, x: np.ndarray | Stream, batch_size: int = 256,
                progress: Any = None) -> np.ndarray:
        """Float outputs for all of `x` (an array, or a stream read as it goes), invoking
        on whole batches (the last one padded); `progress.advance` is called after each. A
        model whose batch axis is fixed at 1 (e.g. a Keras 3 model's) runs sample by sample."""
        check_input(self, x, str(self.path))
        fixed = self.input["shape_signature"][0] == 1
        batch = 1 if fixed else max(1, min(batch_size, len(x)))
        interpreter = self.interpreter
        interpreter.resize_tensor_input(self.input["index"], [batch, *self.input_shape])
        interpreter.allocate_tensors()
        chunks = []
        for chunk in batches(x, batch):
            padded = np.zeros((batch, *self.input_shape), np.float32)
            padded[: len(chunk)] = chunk
            interpreter.set_tensor(self.input["index"], self._quantize(padded))
            interpreter.invoke()
            chunks.append(self._dequantize(interpreter.get_tensor(self.output["index"]))[
                : len(chunk)])
            if progress is not None:
                progress.advance(len(chunk))
        return np.concatenate(chunks)

    def latency(self, sample: np.ndarray, runs: int = 200, warmup: int = 20,
                interpreters: int = 5, progress: Any = None) -> Latency:
        """Batch-1 latency of this model alone (see `measure_latency`)."""
        return measure_latency([self], sample, runs, warmup, interpreters, progress)[0]

    def time_fresh(self, sample: np.ndarray, count: int, warmup: int,
                   progress: Any = None) -> np.ndarray:
        """Milliseconds of `count` invocations of a fresh batch-1 interpreter, after `warmup`
        untimed ones (`measure_latency` pools several)."""
        single = TFLiteRunner(self.path, self.threads)
        interpreter = single.interpreter
        interpreter.resize_tensor_input(single.input["index"], [1, *self.input_shape])
        interpreter.allocate_tensors()
        value = self._quantize(np.asarray(sample, np.float32).reshape(1, *self.input_shape))
        interpreter.set_tensor(single.input["index"], value)
        for _ in range(warmup):
            interpreter.invoke()
        times = np.empty(count)
        for i in range(count):
            started = time.perf_counter_ns()
            interpreter.invoke()
            times[i] = (time.perf_counter_ns() - started) / 1e6
            if progress is not None:
                progress.advance(1)
        return times

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        return quantize(x, self.input["dtype"], *self.input["quantization"])

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        return dequantize(y, self.output["dtype"], *self.output["quantization"])


@contextlib.contextmanager
def model_file(content: bytes) -> Iterator[Path]:
    """`content` as a .tflite file in a temporary folder, for the runtimes that read files."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.tflite"
        path.write_bytes(content)
        yield path


def quantize(x: np.ndarray, dtype: Any, scale: float, zero_point: int) -> np.ndarray:
    """Float values as an integer input tensor holds them (unchanged for a float tensor)."""
    if dtype == np.float32:
        return np.asarray(x, np.float32)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(y: np.ndarray, dtype: Any, scale: float, zero_point: int) -> np.ndarray:
    """The float values an integer tensor stands for (unchanged for a float tensor)."""
    if dtype == np.float32:
        return y
    return (y.astype(np.float32) - zero_point) * scale


def measure_latency(runners: list[TFLiteRunner], sample: np.ndarray, runs: int = 200,
                    warmup: int = 20, interpreters: int = 5,
                    progress: Any = None) -> list[Latency]:
    """Time `runs` single-sample invocations of each model, spread over `interpreters` fresh
    interpreters per model, each after `warmup` untimed runs.

    The models take turns, one fresh interpreter each per round, so a slower spell of a
    shared machine hits them alike and their ratio stays honest. One interpreter's timings
    also depend on where its buffers land in memory (small models can run ~1.5x slower in some
    instances), so the percentiles pool the instances and `p50_range` shows how far single
    instances differ.
    """
    times: list[list[np.ndarray]] = [[] for _ in runners]
    for count in _split(runs, interpreters):
        for own, runner in zip(times, runners, strict=True):
            own.append(runner.time_fresh(sample, count, warmup, progress))
    results = []
    for runner, own in zip(runners, times, strict=True):
        pooled = np.concatenate(own)
        p50, p90, p99 = np.percentile(pooled, [50, 90, 99])
        medians = [float(np.median(t)) for t in own]
        results.append(Latency(
            p50=round(float(p50), 5), p90=round(float(p90), 5), p99=round(float(p99), 5),
            mean=round(float(pooled.mean()), 5), stdev=round(float(pooled.std()), 5),
            runs=len(pooled), warmup=warmup, threads=runner.threads, batch=1,
            kernels=runner.kernels, interpreters=len(own),
            p50_range=[round(min(medians), 5), round(max(medians), 5)]))
    return results


def _split(runs: int, parts: int) -> list[int]:
    """`runs` in at most `parts` near-equal, non-empty shares."""
    parts = max(1, min(parts, runs))
    return [runs // parts + (i < runs % parts) for i in range(parts)]


def describe_kernels(xnnpack: list[str], builtin: list[str]) -> str:
    """'xnnpack', 'builtin', or which ops each ran when the graph was split between them."""
    if not builtin:
        return "xnnpack"
    if not xnnpack:
        return "builtin"
    return f"xnnpack ({len(xnnpack)} ops) + builtin ({', '.join(sorted(set(builtin)))})"
