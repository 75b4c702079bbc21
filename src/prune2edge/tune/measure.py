"""What tune measures: candidates scored one-shot on the validation split, `.tflite` files
made by the recipe's own stages and timed with LiteRT, and a latency model fitted to them.

Latency on one CPU thread follows multiply-accumulates closely for a given architecture
(XNNPACK's kernels are compute-bound; the per-op overhead is the intercept), so p50 is
predicted as a + b x MACs, fitted by least squares to int8 models measured in the same run.
The finalists are measured too, and the report prints how far the prediction was off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset
from ..data.stream import subset
from ..engine.context import BuildContext, BuildSetup
from ..engine.pipeline import Pipeline
from ..engine.prepare import seed_everything
from ..engine.stage import Stage
from ..keras.files import load_own
from ..progress import Reporter
from ..sizes import Size
from ..stages.structural import Structural
from ..tflite.runner import TFLiteRunner, measure_latency
from .fitting import Footprint


@dataclass(frozen=True)
class Candidate:
    """One setting of the structural stage's per-layer ratios, scored without fine-tuning."""

    ratios: dict[str, float]  # by a member layer of each group
    accuracy: float  # validation accuracy right after removal and the refit
    macs: int
    params: int
    model: Any = None
    footprint: Footprint | None = None  # its file's arena and flash, where the search needs them

    def settings(self) -> dict[str, float]:
        return {name: ratio for name, ratio in self.ratios.items() if ratio}


def carve_validation(data: Dataset, share: float, seed: int) -> Dataset:
    """The training split minus a seeded `share`, which becomes the (validation) test split:
    everything tune selects on; the real test split is left for the final build."""
    order = np.random.default_rng(seed).permutation(len(data.x_train))
    held = np.sort(order[:max(1, round(share * len(order)))])
    kept = np.sort(order[len(held):])
    return replace(data, x_train=subset(data.x_train, kept), y_train=data.y_train[kept],
                   x_test=subset(data.x_train, held), y_test=data.y_train[held])


@dataclass(frozen=True, eq=False)
class Scorer:
    """One-shot trials: the template stage's criterion removes channels (with the
    least-squares refit) from the context's model, and the result is scored on the
    validation split before any fine-tuning. Trials run in worker processes hand back their
    figures only (`keep_models` false): a finalist's model is then made again, the same,
    where it is fine-tuned."""

    template: Structural
    ctx: BuildContext
    keep_models: bool = True

    @classmethod
    def in_worker(cls, model_file: Path, data: Any, seed: int, template: Structural) -> Scorer:
        """A worker process's: the model the search starts from, read from its file; it
        works in a folder of its own next to that file (removed with the search's work)."""
        seed_everything(seed)
        model = load_own(model_file)
        work = model_file.parent / f"worker-{os.getpid()}"
        work.mkdir(exist_ok=True)
        ctx = BuildContext(BuildSetup(work, data, seed), model=model, baseline_model=model)
        return cls(template, ctx, keep_models=False)

    def score(self, ratios: dict[str, float]) -> Candidate:
        """The candidate with `ratios` of each group's channels removed."""
        stage = replace(self.template, ratio=0.0, ratios={k: v for k, v in ratios.items() if v},
                        reconstruct=True)
        model, shrunk = stage.shrink(self.ctx.controlled(remaining=()))
        return Candidate(dict(ratios), shrunk.test_accuracy_before_finetune,
                         shrunk.macs_after, shrunk.params_after,
                         model if self.keep_models else None)

    def model_of(self, candidate: Candidate) -> Any:
        """A copy of the candidate's model kept when it was scored (a fine-tune trains the
        model it is given), or the model made again, the same."""
        if candidate.model is not None:
            return self.ctx.setup.engine.clone(candidate.model)
        return self.score(candidate.ratios).model

    def trial(self, step: tuple[int, dict[str, float]]) -> Candidate:
        """`score` of a numbered greedy step (what the worker pool maps)."""
        return self.score(step[1])


class _TasksOnly(Reporter):
    """Shows the epochs of the stages a probe runs, not their stage lines."""

    def __init__(self, outer: Reporter):
        self.outer = outer

    def task(self, description: str, total: int, unit: str = "steps") -> Any:
        return self.outer.task(description, total, unit)


def run_stages(stages: tuple[Stage, ...], model: Any, ctx: BuildContext,
               work: Path) -> BuildContext:
    """`model` through `stages` (ending with the recipe's convert) in `work`; the context
    after them, whose `tflite["final"]` is the file the recipe would build (the dense
    baseline file in `ctx.tflite`, if there, is reused)."""
    work.mkdir(parents=True, exist_ok=True)
    baseline = {k: v for k, v in ctx.tflite.items() if k == "baseline"}
    out, _ = Pipeline(stages).execute(
        ctx.set_up(work_dir=work, reporter=_TasksOnly(ctx.setup.reporter))
        .evolve(model=model, tflite=baseline, quantization=None))
    return out


@dataclass(frozen=True)
class Measured:
    p50_ms: float
    gzip_bytes: int


def measure(files: list[Path], data: Dataset, runs: int = 300) -> list[Measured]:
    """Batch-1 p50 and gzip size of each file, the files timed in turns."""
    runners = [TFLiteRunner(path) for path in files]
    latencies = measure_latency(runners, data.x_test[:1], runs=runs, warmup=20, interpreters=3)
    return [Measured(latency.p50, Size.of_file(path).gzip_bytes)
            for path, latency in zip(files, latencies, strict=True)]


def measure_accuracy(path: Path, data: Dataset) -> float:
    """Validation accuracy of one .tflite file."""
    predicted = TFLiteRunner(path).predict(data.x_test).argmax(axis=1)
    return float(np.mean(predicted == data.y_test))


@dataclass(frozen=True)
class LatencyModel:
    """p50 = intercept + slope x MACs, fitted to measured (MACs, p50) points."""

    intercept: float
    slope: float
    points: list[tuple[int, float]]

    @classmethod
    def fit(cls, points: list[tuple[int, float]]) -> LatencyModel:
        macs = np.array([m for m, _ in points], float)
        p50 = np.array([p for _, p in points], float)
        slope, intercept = np.polyfit(macs, p50, 1) if len(set(macs)) > 1 else (
            p50.mean() / max(macs.mean(), 1), 0.0)
        return cls(float(max(intercept, 0.0)), float(max(slope, 0.0)), points)

    def predict(self, macs: int) -> float:
        return self.intercept + self.slope * macs
