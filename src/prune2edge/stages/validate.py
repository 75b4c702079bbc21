"""`validate`: accuracy, agreement with Keras, and latency of baseline and final .tflite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..context import BuildContext
from ..errors import RecipeError
from ..runtime import TFLiteRunner
from ..sizes import ratio
from .base import Stage


@dataclass(frozen=True, kw_only=True)
class Validate(Stage):
    """Runs both .tflite files on the CPU over the whole test split (batched) and times
    single-sample invocations after warm-up."""

    kind: ClassVar[str] = "validate"
    requires: ClassVar[frozenset[str]] = frozenset({"tflite"})

    threads: int = 1
    runs: int = 200
    warmup: int = 20
    batch_size: int = 256

    def __post_init__(self) -> None:
        for name in ("threads", "runs", "batch_size"):
            if getattr(self, name) < 1:
                raise RecipeError(f"{name} must be >= 1, got {getattr(self, name)}", name,
                                  "use a positive count")
        if self.warmup < 0:
            raise RecipeError(f"warmup must be >= 0, got {self.warmup}", "warmup",
                              "use e.g. 20 untimed runs")

    def summary(self) -> str:
        return f"{self.runs} timed runs, {self.threads} thread(s)"

    def run(self, ctx: BuildContext) -> BuildContext:
        x, y = ctx.data.x_test, ctx.data.y_test
        accuracy: dict[str, Any] = {}
        latency: dict[str, Any] = {}
        outputs: dict[str, np.ndarray] = {}
        for role, path in ctx.tflite.items():
            runner = TFLiteRunner(path, self.threads)
            outputs[role] = runner.predict(x, self.batch_size)
            accuracy[role if role == "baseline" else "tflite"] = _accuracy(outputs[role], y)
            with ctx.reporter.task(f"timing {path.name}", self.runs) as task:
                timing = runner.latency(x[:1], self.runs, self.warmup, progress=task)
            latency[role] = {**timing.to_dict(), "fallback": runner.fallback}
            if runner.fallback:
                ctx.reporter.note(f"{path.name}: {runner.fallback}; ran the builtin kernels")
        keras_out = np.asarray(ctx.model.predict(x, batch_size=self.batch_size, verbose=0))
        accuracy["keras"] = _accuracy(keras_out, y)
        accuracy["test_samples"] = len(y)
        if "baseline" in accuracy:
            accuracy["drop_pt"] = round((accuracy["baseline"] - accuracy["tflite"]) * 100, 4)
        final = outputs["final"]
        agreement = {
            "top1": float(np.mean(keras_out.argmax(1) == final.argmax(1))),
            "max_abs_diff": float(np.max(np.abs(keras_out - final))),
        }
        latency["speedup_p50"] = _round(ratio(latency["baseline"]["p50"], latency["final"]["p50"]))
        return ctx.with_outputs(accuracy=accuracy, agreement=agreement, latency_ms=latency)


def _accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(outputs.argmax(axis=1) == labels))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
