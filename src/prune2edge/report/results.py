"""StageResult: what a finished stage reports, one frozen dataclass per stage kind.

A stage kind names its result class (`Stage.Result`); its `run` returns the context with an
instance (`ctx.with_result`). Code that reads a result reads typed fields; `to_dict` is the
stage's `outputs` in report.json, its keys in the order the fields are declared, a field
declared with `metadata=OPTIONAL` left out while it is None.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import first_line
from ..sizes import Size

R = TypeVar("R", bound="StageResult")
OPTIONAL = {"optional": True}  # the metadata of a field report.json leaves out while None


@dataclass(frozen=True, kw_only=True)
class StageResult:
    """The base of every stage kind's result; as it is, the result of a stage that reports
    nothing."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not (f.metadata.get("optional") and getattr(self, f.name) is None)}

    @classmethod
    def from_dict(cls: type[R], doc: Mapping[str, Any]) -> R:
        """The result a report or checkpoint recorded (ValueError if it does not fit)."""
        try:
            return cls(**doc)
        except TypeError as exc:
            raise ValueError(f"not a {cls.__name__}: {first_line(exc)}") from exc

    def warned(self) -> list[str]:
        """What the user must not overlook (the report's `warnings`)."""
        return []


@dataclass(frozen=True, kw_only=True)
class Trained(StageResult):
    """What a training stage reports: the last epoch's figures, the test accuracy of the
    trained model, the loss it minimised, the optimizer steps taken and, under a
    tf.distribute strategy, the strategy."""

    epochs: int
    loss: float
    train_accuracy: float
    val_accuracy: float | None
    test_accuracy: float
    loss_fn: str
    steps: int
    strategy: str | None = field(default=None, metadata=OPTIONAL)
    replicas: int | None = field(default=None, metadata=OPTIONAL)
    workers: int | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True, kw_only=True)
class Stripped(StageResult):
    """The weights' sparsity once the wrappers are gone: the share of zeros, and counts; for
    each clustered layer, the clusters asked and the most distinct values in one tensor (one
    channel, per channel)."""

    sparsity: float
    weights: int
    zeros: int
    clusters: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True, kw_only=True)
class Measured(StageResult):
    """Sizes by file: `keras_h5` (the Keras model), then each .tflite by its file name."""

    sizes: Mapping[str, Size] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {name: size.to_dict() for name, size in self.sizes.items()}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Measured:
        try:
            return cls(sizes={name: Size(**size) for name, size in doc.items()})
        except TypeError as exc:
            raise ValueError(f"not sizes by file: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class Quantized(StageResult):
    """The quantization the converter will apply (`QuantizationPlan.describe`)."""

    mode: str
    io_type: str
    representative_samples: int | None
    per_channel: bool
    float_layers: list[str] | None = field(default=None, metadata=OPTIONAL)
    accuracy_control: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True, kw_only=True)
class Converted(StageResult):
    """The conversion: int8's per-op errors (int8 builds), the quantization applied, the
    encoding asked and chosen, the candidates' sizes (and batch-1 p50), why, the size
    after each step, and each weight tensor's zeros and distinct values in the file."""

    int8: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    quantization: dict[str, Any]
    sparse: str
    encoding: str
    candidates: dict[str, dict[str, Any]]
    decision: str
    speed_note: str
    waterfall: list[dict[str, Any]]
    weights: list[dict[str, Any]] = field(default_factory=list)  # per weight tensor


@dataclass(frozen=True, kw_only=True)
class Pruned(StageResult):
    """A prune stage: the criterion, the accuracy right after a one-shot criterion zeroed the
    weights (None for magnitude, which tfmot applies while fine-tuning), the schedule with
    its end resolved, the layers pruned and left dense (with why), and OBS's per-layer
    reconstruction."""

    criterion: str
    test_accuracy_before_finetune: float | None
    schedule: dict[str, Any]
    target_sparsity: float
    sparsity_m_by_n: list[int] | None
    finetune_steps: int | None
    pruned_layers: list[str]
    dense_layers: list[dict[str, str]]
    warnings: list[str]
    reconstruction: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    # layers not pruned now whose zeros (an earlier prune's) a mask holds while fine-tuning
    zeros_held: list[str] | None = field(default=None, metadata=OPTIONAL)

    def warned(self) -> list[str]:
        return list(self.warnings)


@dataclass(frozen=True, kw_only=True)
class QuantizationAware(Trained):
    """A qat stage: the training's figures, tfmot's scheme (QAT, PQAT, CQAT or PCQAT), the
    layers left in float (with why) and each kernel's zeros and distinct values before and
    after it."""

    scheme: str
    left_float: list[dict[str, str]]
    layers: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class Clustered(StageResult):
    """A cluster stage: what tfmot was asked for, the layers clustered, those left as they
    are (with why) and those of them whose zeros a pruning mask holds."""

    number_of_clusters: int
    init: str
    preserve_sparsity: bool
    per_channel: bool
    clustered_layers: list[str]
    skipped_layers: list[dict[str, str]]
    zeros_held: list[str]  # layers not clustered whose zeros a pruning mask holds


@dataclass(frozen=True, kw_only=True)
class Structured(StageResult):
    """A structural stage: parameters and MACs before and after, the accuracy before any
    fine-tune, each layer's widths and costs, residual groups, the layers kept whole (why),
    each group's kept channels and, with a refit, its per-layer errors."""

    criterion: str
    allocation: str
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    test_accuracy_before_finetune: float
    channels_removed: int
    layers: list[dict[str, Any]]
    groups: list[list[str]]
    skipped: list[dict[str, Any]]
    kept: list[dict[str, Any]]
    test_accuracy_before_reconstruction: float | None = field(default=None, metadata=OPTIONAL)
    reconstruction: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True, kw_only=True)
class Validated(StageResult):
    """A validate stage: accuracy (with intervals and the paired test), agreement with Keras,
    latency and memory of the baseline and final files, a near-chance warning, and the final
    file on TensorFlow Lite Micro (or why it was skipped)."""

    accuracy: dict[str, Any]
    agreement: dict[str, Any]
    latency_ms: dict[str, Any]
    memory: dict[str, Any]
    warnings: list[str] | None = field(default=None, metadata=OPTIONAL)
    micro: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)

    def warned(self) -> list[str]:
        return list(self.warnings or [])
