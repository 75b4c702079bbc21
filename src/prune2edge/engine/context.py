"""BuildContext: what stages hand on to each other (frozen; stages return `evolve(...)`d
copies), and StageRecord: a finished stage, with its result."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..data import Dataset
from ..progress import Reporter
from ..report.results import StageResult
from .facts import Facts
from .model_engine import ModelEngine, engine_for

if TYPE_CHECKING:
    from ..keras.converter import QuantizationPlan

FLOAT = "float"  # the role of the float twin of a model in quantization-aware training
EpochHook = Callable[[Any, list[dict[str, float]]], None]


class Upcoming(Protocol):
    """A stage after the running one, as the running one may look ahead at it: a `Stage`,
    typed by what look-ahead reads (this module is below the stage contract)."""

    kind: ClassVar[str]
    provides: ClassVar[Facts]
    removes: ClassVar[Facts]
    applies_masks: ClassVar[bool]


@dataclass(frozen=True)
class StageControl:
    """What the pipeline sets for the running stage: its place in the pipeline (1-based; 0
    when a stage runs alone), the stages after it (look-ahead), the logs of the epochs a
    resumed build already ran, and a hook to call with (model, logs so far) after every
    epoch (checkpointing)."""

    index: int = 0
    remaining: tuple[Upcoming, ...] = ()
    resume_logs: tuple[dict[str, float], ...] = ()
    on_epoch_end: EpochHook | None = None


@dataclass(frozen=True, eq=False)
class BuildSetup:
    """What a build runs with, the same for every stage: its work directory (the staging
    folder), the data, the seed, the reporter, the tf.distribute strategy training stages
    run under (if any) and the model engine (tf_keras or Keras 3)."""

    work_dir: Path
    data: Dataset
    seed: int = 0
    reporter: Reporter = field(default_factory=Reporter)
    strategy: Any = None
    engine: ModelEngine = field(default_factory=lambda: engine_for("tf_keras"))


@dataclass(frozen=True, eq=False)
class BuildContext:
    """The state of a build between stages: what it runs with (`setup`), what it has made so
    far, and the running stage's control (`control`).

    `model` is the current Keras model (maybe with pruning wrappers); `baseline_model` is the
    dense reference every ratio is measured against (the input model, after `train` if any).
    `models` holds further models by role (a teacher, search candidates); checkpoints save
    them with the rest. `masks` are the pruning masks an engine keeps beside the model
    (Keras 3's), None where the model holds its own (tfmot's wrappers) or is not pruning.
    """

    setup: BuildSetup
    model: Any = None
    baseline_model: Any = None
    models: Mapping[str, Any] = field(default_factory=dict)
    masks: Any = None
    quantization: QuantizationPlan | None = None
    tflite: Mapping[str, Path] = field(default_factory=dict)  # "baseline"/"final" -> file
    result: StageResult = field(default_factory=StageResult)  # what the running stage reports
    failure: str | None = None  # set by a stage whose result must not be trusted
    control: StageControl = field(default_factory=StageControl)

    def evolve(self, **changes: Any) -> BuildContext:
        return dataclasses.replace(self, **changes)

    @property
    def keras_model(self) -> Any:
        """The Keras model as the build hands it back: after quantization-aware training the
        float model with the trained weights (`models["float"]`), else `model`."""
        return self.models.get(FLOAT, self.model)

    def with_result(self, result: StageResult) -> BuildContext:
        return self.evolve(result=result)

    def set_up(self, **setup: Any) -> BuildContext:
        """This context with what the build runs with changed (`BuildSetup` fields)."""
        return self.evolve(setup=dataclasses.replace(self.setup, **setup))

    def controlled(self, **control: Any) -> BuildContext:
        """This context with the running stage's control changed (`StageControl` fields)."""
        return self.evolve(control=dataclasses.replace(self.control, **control))

    def with_model(self, role: str, model: Any) -> BuildContext:
        """This context with `model` kept under `role` in `models`."""
        return self.evolve(models={**self.models, role: model})


@dataclass(frozen=True)
class StageRecord:
    """A finished stage: its name in the report (kind, numbered when repeated), its kind,
    time, parameters and result (report.json's `stages[]`, the result as `outputs`)."""

    name: str
    kind: str
    seconds: float
    params: dict[str, Any]
    result: StageResult = field(default_factory=StageResult)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "seconds": round(self.seconds, 3),
                "params": self.params, "outputs": self.result.to_dict()}

    @classmethod
    def from_dict(cls, doc: dict[str, Any], result: type[StageResult]) -> StageRecord:
        """The record as `to_dict` wrote it, its outputs read as a `result`."""
        return cls(doc["name"], doc["kind"], doc["seconds"], doc["params"],
                   result.from_dict(doc["outputs"]))
