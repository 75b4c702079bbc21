"""The validator: accuracy, latency, kernels and memory of a .tflite, and agreement with Keras.

Used by the `validate` stage (baseline and final in one run) and by `prune2edge validate`.
Needs only LiteRT and NumPy unless a Keras model is given for agreement.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..data import Dataset, DataSpec, fit_to_model, load
from ..data.stream import Stream
from ..errors import BuildFailed
from ..metrics import top1
from ..progress import Reporter
from ..requirements import TFLM
from .micro import MicroRunner, board_memory
from .model import TFLiteModel
from .runner import Latency, TFLiteRunner, measure_latency

# Resident memory (not the peak: a forked child inherits its parent's peak) before and after
# loading and running the model once, in a fresh process so nothing else is counted.
_RSS_PROBE = """
import os, sys, numpy as np
from prune2edge.tflite.runner import TFLiteRunner
def rss_kb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
before = rss_kb()
runner = TFLiteRunner(sys.argv[1], int(sys.argv[2]))
runner.predict(np.zeros((1, *runner.input_shape), np.float32), batch_size=1)
print(rss_kb() - before)
"""


@dataclass(frozen=True, eq=False)
class TFLiteFigures:
    """What the validator measured for one .tflite file."""

    path: Path
    accuracy: float
    samples: int
    latency: Latency
    fallback: str | None
    rss_kb: int | None
    outputs: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "accuracy": self.accuracy, "test_samples": self.samples,
                "latency_ms": self.latency.to_dict(), "kernels": self.latency.kernels,
                "fallback": self.fallback, "rss_growth_kb": self.rss_kb}


def evaluate(paths: dict[str, Path], data: Dataset, *, threads: int = 1, runs: int = 500,
             warmup: int = 20, interpreters: int = 5, batch_size: int = 256,
             memory: bool = True, reporter: Reporter | None = None) -> dict[str, TFLiteFigures]:
    """For each model (by role): accuracy over the whole test split (batched), batch-1
    latency (the models timed in turns, see `measure_latency`), kernels and memory."""
    reporter = reporter or Reporter()
    runners = {role: TFLiteRunner(path, threads) for role, path in paths.items()}
    outputs = {role: runner.predict(data.x_test, batch_size) for role, runner in runners.items()}
    names = " and ".join(Path(p).name for p in paths.values())
    with reporter.task(f"timing {names}", runs * len(runners), "runs") as task:
        latencies = measure_latency(list(runners.values()), data.x_test[:1], runs, warmup,
                                    interpreters, progress=task)
    figures = {}
    for (role, runner), latency in zip(runners.items(), latencies, strict=True):
        if runner.fallback:
            reporter.note(f"{runner.path.name}: {runner.fallback}; ran the builtin kernels")
        accuracy = top1(outputs[role], data.y_test)
        figures[role] = TFLiteFigures(
            runner.path, accuracy, len(data.y_test), latency, runner.fallback,
            rss_growth_kb(runner.path, threads) if memory else None, outputs[role])
    return figures


def agreement(keras_outputs: np.ndarray, tflite_outputs: np.ndarray) -> dict[str, float]:
    """Top-1 agreement and the largest absolute output difference."""
    keras_outputs = np.asarray(keras_outputs, np.float32)
    return {"top1": top1(keras_outputs, tflite_outputs.argmax(1)),
            "max_abs_diff": float(np.max(np.abs(keras_outputs - tflite_outputs)))}


def micro_figures(path: Path, x: np.ndarray | Stream, labels: np.ndarray,
                  litert_outputs: np.ndarray | None = None,
                  progress: Any = None) -> tuple[dict[str, Any], np.ndarray]:
    """Everything the report says about a model on TFLM — accuracy over `x`, agreement with
    LiteRT's outputs (per sample, in quantization steps of the output), the ops, the arena,
    the activations alive at each op, the flash the file takes — and TFLM's outputs."""
    view = TFLiteModel.of_file(path)
    runner = MicroRunner(view.content, str(path))
    outputs = runner.predict(x, progress=progress)
    ops = view.ops()
    activations = view.activation_memory()
    figures: dict[str, Any] = {
        "runtime": f"tflite-micro {_compat.tflm().__version__}",
        "accuracy": top1(outputs, labels),
        "test_samples": len(labels),
        "ops": {op: ops.count(op) for op in sorted(set(ops))},
        **board_memory(runner, activations),
        "activations": [op.to_dict() for op in activations],
    }
    if litert_outputs is not None:
        figures["agreement"] = agreement_with(outputs, litert_outputs, view.output_step())
    return figures, outputs


def agreement_with(micro: np.ndarray, litert: np.ndarray, step: float | None) -> dict[str, Any]:
    """`agreement` of TFLM with LiteRT, and how far their outputs are apart in steps of the
    output's quantization (`within_one_step`: the share of samples whose every output is at
    most one step off); a float output has no step."""
    figures: dict[str, Any] = agreement(litert, micro)
    if step:
        steps = np.max(np.abs(micro - litert), axis=1) / step
        figures.update(step=step, max_steps=round(float(steps.max()), 4),
                       within_one_step=float(np.mean(steps <= 1.001)))  # float32 rounding
    return figures


def rss_growth_kb(path: Path, threads: int = 1) -> int | None:
    """Resident memory growth (KiB) from loading, allocating and invoking the model once,
    measured in a fresh Python process (Linux /proc); None where that cannot be measured.
    It includes what LiteRT sets up for any model (kernels, XNNPACK), so compare models."""
    if not Path("/proc/self/statm").exists():
        return None
    try:
        result = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(path), str(threads)],
                                capture_output=True, text=True, timeout=120, check=True)
        return int(result.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


@dataclass(frozen=True, eq=False)
class Checked:
    """A validation: LiteRT's figures by role, TensorFlow Lite Micro's of the final file (if
    it ran), the final file's outputs (LiteRT's, else TFLM's), and the reference model's
    accuracy and agreement with the final file (if one was given)."""

    litert: dict[str, TFLiteFigures]
    micro: dict[str, Any] | None
    outputs: np.ndarray | None
    reference_accuracy: float | None = None
    agreement: dict[str, float] | None = None

    def compared(self) -> tuple[float, dict[str, float]]:
        """The reference's accuracy and its agreement with the final file; BuildFailed when
        no reference was compared (none given, or neither runtime ran)."""
        if self.reference_accuracy is None or self.agreement is None:
            raise BuildFailed("no reference model's outputs were compared with the .tflite",
                              "validate", "give check_files a reference and a runtime")
        return self.reference_accuracy, self.agreement


def check_files(paths: dict[str, Path], data: Dataset, final: str, *, litert: bool = True,
                micro: bool = False, reference: Callable[[Any], np.ndarray] | None = None,
                threads: int = 1, runs: int = 500, warmup: int = 20, interpreters: int = 5,
                batch_size: int = 256, memory: bool = True,
                reporter: Reporter | None = None) -> Checked:
    """What `validate` (the stage and the command) measures: every file of `paths` (by role)
    on LiteRT with `litert`, the `final` one on TensorFlow Lite Micro with `micro` (against
    LiteRT's outputs when both ran), and `reference` (e.g. Keras) against the final file."""
    reporter = reporter or Reporter()
    figures = (evaluate(paths, data, threads=threads, runs=runs, warmup=warmup,
                        interpreters=interpreters, batch_size=batch_size, memory=memory,
                        reporter=reporter) if litert else {})
    outputs = figures[final].outputs if litert else None
    found = None
    if micro:
        with reporter.task(f"running {paths[final].name} on TensorFlow Lite Micro",
                           len(data.y_test), "samples") as task:
            found, micro_outputs = micro_figures(paths[final], data.x_test, data.y_test,
                                                 outputs, task)
        outputs = micro_outputs if outputs is None else outputs
    if reference is None or outputs is None:
        return Checked(figures, found, outputs)
    reference_outputs = reference(data.x_test)
    return Checked(figures, found, outputs, top1(reference_outputs, data.y_test),
                   agreement(reference_outputs, outputs))


def validate_file(path: Path, data_source: str = "builtin:mnist",
                  reference: Callable[[np.ndarray | Stream], np.ndarray] | None = None, *,
                  runtime: str = "litert", threads: int = 1, runs: int = 500, warmup: int = 20,
                  interpreters: int = 5, batch_size: int = 256,
                  reporter: Reporter | None = None) -> dict[str, Any]:
    """Everything `prune2edge validate` prints, as a JSON-able dict. `reference` predicts
    the same test samples with the source model (e.g. Keras), for accuracy and agreement;
    `runtime` "tflm" or "both" runs TensorFlow Lite Micro (`micro`), "both" LiteRT too."""
    reporter = reporter or Reporter()
    if runtime != "litert" and not TFLM.installed():
        raise TFLM.error(f"--runtime {runtime}")
    runner = TFLiteRunner(path, threads)
    classes = int(runner.output["shape"][-1])
    raw = load(DataSpec(source=data_source), Path.cwd(), runner.input_shape)
    data = fit_to_model(raw, runner.input_shape, classes)
    if data.preprocessing:
        reporter.note(f"data fitted to the model: {'; '.join(data.preprocessing)}")
    checked = check_files({"model": Path(path)}, data, "model", litert=runtime != "tflm",
                          micro=runtime != "litert", reference=reference, threads=threads,
                          runs=runs, warmup=warmup, interpreters=interpreters,
                          batch_size=batch_size, reporter=reporter)
    result: dict[str, Any] = {"path": str(path), "data": data.describe()}
    if checked.litert:
        result.update(checked.litert["model"].to_dict())
    if checked.micro is not None:
        result["micro"] = checked.micro
    if checked.agreement is not None:
        result["keras_accuracy"] = checked.reference_accuracy
        result["agreement"] = checked.agreement
    return result
