"""BuildContext: what stages hand on to each other (frozen; stages return `evolve(...)`d
copies), and StageRecord: what a finished stage reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import Dataset
from ..progress import Reporter

if TYPE_CHECKING:
    from ..keras.converter import QuantizationPlan
    from .stage import Stage

EpochHook = Callable[[Any, list[dict[str, float]]], None]


@dataclass(frozen=True, eq=False)
class BuildContext:
    """The state of a build between stages.

    `model` is the current Keras model (maybe with pruning wrappers); `baseline_model` is the
    dense reference every ratio is measured against (the input model, after `train` if any).
    `models` holds further models by role (a teacher, search candidates); checkpoints save
    them with the rest.
    """

    work_dir: Path
    data: Dataset
    model: Any
    baseline_model: Any
    seed: int = 0
    reporter: Reporter = field(default_factory=Reporter)
    models: Mapping[str, Any] = field(default_factory=dict)
    remaining: tuple[Stage, ...] = ()  # stages after the running one, for look-ahead
    quantization: QuantizationPlan | None = None
    tflite: Mapping[str, Path] = field(default_factory=dict)  # "baseline"/"final" -> file
    outputs: Mapping[str, Any] = field(default_factory=dict)  # what the running stage reports
    failure: str | None = None  # set by a stage whose result must not be trusted
    strategy: Any = None  # the tf.distribute strategy training stages run under, if any
    # Set by the pipeline for the running stage: its place in the pipeline (1-based, 0 when a
    # stage runs alone), the logs of epochs a resumed build already ran, and a hook to call
    # with (model, logs so far) after every epoch (checkpointing).
    stage_index: int = 0
    resume_logs: tuple[dict[str, float], ...] = ()
    on_epoch_end: EpochHook | None = None

    def evolve(self, **changes: Any) -> BuildContext:
        return dataclasses.replace(self, **changes)

    def with_outputs(self, **outputs: Any) -> BuildContext:
        return self.evolve(outputs={**self.outputs, **outputs})

    def with_model(self, role: str, model: Any) -> BuildContext:
        """This context with `model` kept under `role` in `models`."""
        return self.evolve(models={**self.models, role: model})


@dataclass(frozen=True)
class StageRecord:
    name: str
    kind: str
    seconds: float
    params: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "seconds": round(self.seconds, 3),
                "params": self.params, "outputs": self.outputs}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> StageRecord:
        return cls(doc["name"], doc["kind"], doc["seconds"], doc["params"], doc["outputs"])
