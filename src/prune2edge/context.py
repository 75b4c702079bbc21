"""BuildContext: what stages hand on to each other. Frozen; stages return `evolve(...)`d copies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import Dataset
from .progress import Reporter

if TYPE_CHECKING:
    from .stages.base import Stage


@dataclass(frozen=True)
class QuantizationPlan:
    """What the quantize stage asks the converter to do."""

    mode: str  # "none" | "dynamic" | "float16" | "int8"
    io_type: str = "float32"
    samples: Any = None  # representative inputs for int8 calibration

    def describe(self) -> dict[str, Any]:
        count = None if self.samples is None else len(self.samples)
        return {"mode": self.mode, "io_type": self.io_type, "representative_samples": count}


@dataclass(frozen=True, eq=False)
class BuildContext:
    """The state of a build between stages.

    `model` is the current Keras model (maybe with pruning wrappers); `baseline_model` is the
    dense reference every ratio is measured against (the input model, after `train` if any).
    """

    work_dir: Path
    data: Dataset
    model: Any
    baseline_model: Any
    seed: int = 0
    reporter: Reporter = field(default_factory=Reporter)
    remaining: tuple[Stage, ...] = ()  # stages after the running one, for look-ahead
    quantization: QuantizationPlan | None = None
    tflite: Mapping[str, Path] = field(default_factory=dict)  # "baseline"/"final" -> file
    outputs: Mapping[str, Any] = field(default_factory=dict)  # what the running stage reports
    failure: str | None = None  # set by a stage whose result must not be trusted
    # Checkpointing, set by the pipeline for the running stage: the logs of epochs a resumed
    # build already ran, and a hook to call with (model, logs so far) after every epoch.
    resume_logs: tuple[dict[str, float], ...] = ()
    on_epoch_end: Callable[[Any, list[dict[str, float]]], None] | None = None

    def evolve(self, **changes: Any) -> BuildContext:
        return dataclasses.replace(self, **changes)

    def with_outputs(self, **outputs: Any) -> BuildContext:
        return self.evolve(outputs={**self.outputs, **outputs})
