"""Pipeline: ordered stages, checked before any work, run with timing into a build directory."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _compat, data, keras_model, native_log
from .checkpoint import Checkpointer, ResumePoint, describe_checkpoint, fingerprint
from .context import BuildContext
from .errors import BuildFailed, DataError, Interrupted, Prune2EdgeError, RecipeError
from .outdir import BuildDir
from .progress import Reporter
from .report import BuildReport, assemble
from .stages import REGISTRY
from .stages.base import Stage
from .stages.training import TrainingStage

# What each fact that stages require, provide or forbid means, for error messages.
FACTS = {
    "keras": "a Keras model",
    "wrapped": "pruning wrappers on the model",
    "trained": "fine-tuning after prune (tfmot applies the masks during training steps)",
    "pruned": "pruned weights",
    "quantization": "a quantization plan",
    "tflite": "a converted .tflite",
}
FORBIDDEN_FIX = {
    "wrapped": "the model still has pruning wrappers: add a strip stage before {kind}",
    "tflite": "convert has already written the .tflite: move {kind} before convert",
    "pruned": "{kind} trains the dense model and would undo the pruning: move it before "
              "prune, or use finetune",
    "quantization": "keep a single quantize stage",
}


def check_order(stages: Sequence[Stage]) -> None:
    """Raise RecipeError naming the first stage whose requirements the ones before it miss."""
    if not stages:
        raise RecipeError("the pipeline has no stages", None,
                          'add [[stages]] tables, e.g. kind = "convert"')
    facts = {"keras"}
    made_by = {"keras": "the model source"}
    for index, stage in enumerate(stages, 1):
        where = f"stage {index} ({stage.kind})"
        for fact in [f for f in FACTS if f in stage.requires - facts]:  # most basic first
            makers = [k for k, cls in REGISTRY.items() if fact in cls.provides]
            raise RecipeError(f"{stage.kind} needs {FACTS[fact]}", where,
                              f"add a {makers[0]} stage before it")
        for fact in [f for f in FACTS if f in stage.forbids & facts]:
            raise RecipeError(f"{stage.kind} cannot come after {made_by[fact]}", where,
                              FORBIDDEN_FIX[fact].format(kind=stage.kind))
        try:
            stage.check_neighbours(stages[: index - 1], stages[index:])
        except RecipeError as exc:
            raise exc.located(where) from None
        facts = (facts - stage.removes) | stage.provides
        made_by.update(dict.fromkeys(stage.provides, stage.kind))


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


class Pipeline:
    """An ordered, checked sequence of stages.

    >>> Pipeline([Prune(), FineTune(epochs=3), Strip(), Convert()]).run(model, data, out="b")
    """

    def __init__(self, stages: Iterable[Stage]):
        self.stages: tuple[Stage, ...] = tuple(stages)
        check_order(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def __iter__(self) -> Iterator[Stage]:
        return iter(self.stages)

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(s.kind for s in self.stages)}])"

    def until(self, kind: str) -> Pipeline:
        """The stages up to and including the first one of `kind`."""
        kinds = [s.kind for s in self.stages]
        if kind not in kinds:
            raise RecipeError(f"--until {kind}: the pipeline has no {kind} stage", None,
                              f"use one of: {', '.join(dict.fromkeys(kinds))}")
        return Pipeline(self.stages[: kinds.index(kind) + 1])

    def only(self, kinds: Iterable[str]) -> Pipeline:
        """The stages of the given kinds, in pipeline order."""
        wanted = set(kinds)
        present = {s.kind for s in self.stages}
        missing = sorted(wanted - present)
        if missing:
            raise RecipeError(f"--only {missing[0]}: the pipeline has no {missing[0]} stage", None,
                              f"use one of: {', '.join(sorted(present))}")
        return Pipeline(s for s in self.stages if s.kind in wanted)

    def execute(self, ctx: BuildContext, checkpoints: Checkpointer | None = None,
                resume: ResumePoint | None = None) -> tuple[BuildContext, list[StageRecord]]:
        """Preflight every stage against the loaded model and data, then run them in order.

        With `checkpoints`, training stages save the build after every epoch and when they
        finish; with `resume`, the stages that finished are skipped and the one that was
        interrupted continues after its last finished epoch. A stage that sets
        `ctx.failure` stops the run (the caller still reports what was measured).
        """
        total = len(self.stages)
        for index, stage in enumerate(self.stages, 1):
            try:
                stage.preflight(ctx.evolve(remaining=self.stages[index:]))
            except Prune2EdgeError as exc:
                raise exc.located(f"stage {index} ({stage.kind})") from None
        records: list[StageRecord] = []
        start = 1
        if resume is not None:
            records = [StageRecord.from_dict(r) for r in resume.records]
            start = resume.stage_index
            ctx = ctx.evolve(model=resume.model, baseline_model=resume.baseline_model)
        for index, stage in enumerate(self.stages, 1):
            ctx = ctx.evolve(remaining=self.stages[index:], outputs={})
            if index < start:
                ctx = stage.replay(ctx)
                continue
            resumed = tuple(resume.epoch_logs) if resume and index == start else ()
            save = _epoch_saver(checkpoints, index, records, ctx) \
                if checkpoints is not None and isinstance(stage, TrainingStage) else None
            ctx.reporter.stage_started(index, total, stage.kind, stage.summary())
            started = time.perf_counter()
            ctx = stage.run(ctx.evolve(resume_logs=resumed, on_epoch_end=save))
            seconds = time.perf_counter() - started
            records.append(StageRecord(_record_name(stage.kind, records), stage.kind, seconds,
                                       stage.params(), dict(ctx.outputs)))
            ctx.reporter.stage_finished(index, total, stage.kind, seconds, ctx.outputs)
            ctx = ctx.evolve(resume_logs=(), on_epoch_end=None)
            if ctx.failure:
                break
            if save is not None:  # resume after this stage rather than inside it
                checkpoints.save(stage_index=index + 1, epochs_done=0, epoch_logs=[],
                                 records=[r.to_dict() for r in records], model=ctx.model,
                                 baseline_model=ctx.baseline_model)
        return ctx.evolve(remaining=(), outputs={}), records

    def run(self, model: Any, data_source: Any, *, out: str | Path, seed: int = 0,
            force: bool = False, resume: bool = False, reporter: Reporter | None = None,
            name: str = "pipeline", base_dir: Path | None = None,
            recipe: dict[str, Any] | None = None, log_native: bool = False) -> BuildReport:
        """Build into `out`: load the model and data, run the stages, write the report.

        `model` is a tf_keras model, a source string or a ModelSpec; `data_source` a Dataset,
        a source string or a DataSpec. Relative sources resolve against `base_dir` (default:
        the working directory). `resume` continues an interrupted build of the same recipe
        from its last checkpoint. A build whose result fails a check (e.g. Keras and the
        .tflite disagree) still writes its report, marked failed, then raises BuildFailed.
        """
        base_dir = Path(base_dir or Path.cwd())
        reporter = reporter or Reporter()
        recipe = recipe or {"stages": [s.params() for s in self]}
        started = time.perf_counter()
        try:
            report = self._build(model, data_source, Path(out), seed, force, resume, reporter,
                                 name, base_dir, recipe, log_native, started)
        except KeyboardInterrupt:
            saved = describe_checkpoint(Path(out))
            fix = (f"the checkpoint ({saved}) is kept: run the same command with --resume"
                   if saved else "nothing was checkpointed yet: run the build again")
            raise Interrupted("interrupted: stopped cleanly, nothing half-written was kept",
                              str(out), fix) from None
        if report.failure:
            error = BuildFailed(report.failure, str(out),
                                "the report (marked failed) has the figures; see report.md")
            error.report = report
            raise error
        return report

    def _build(self, model: Any, data_source: Any, out: Path, seed: int, force: bool,
               resume: bool, reporter: Reporter, name: str, base_dir: Path,
               recipe: dict[str, Any], log_native: bool, started: float) -> BuildReport:
        with BuildDir(out, force, resume) as build_dir:
            staging = build_dir.staging
            checkpoints = Checkpointer(build_dir.out, fingerprint(recipe, seed))
            with native_log.captured(staging / "build.log" if log_native else None):
                seed_everything(seed)
                point = checkpoints.load() if resume else None
                loaded, ctx = prepare(model, data_source, base_dir=base_dir, seed=seed,
                                      work_dir=staging, reporter=reporter)
                ctx, records = self.execute(ctx, checkpoints, point)
                report = assemble(ctx, records, name=name, seed=seed, model=loaded,
                                  recipe=recipe, seconds=time.perf_counter() - started,
                                  resumed=point.describe() if point else None)
                report.write(staging)
            build_dir.commit()
        return report.located(out)


def _record_name(kind: str, records: list[StageRecord]) -> str:
    """'finetune', then 'finetune-2' for the second stage of a kind."""
    count = sum(r.kind == kind for r in records) + 1
    return kind if count == 1 else f"{kind}-{count}"


def _epoch_saver(checkpoints: Checkpointer, index: int, records: list[StageRecord],
                 ctx: BuildContext) -> Any:
    done = [r.to_dict() for r in records]

    def save(model: Any, epoch_logs: list[dict[str, float]]) -> None:
        checkpoints.save(stage_index=index, epochs_done=len(epoch_logs), epoch_logs=epoch_logs,
                         records=done, model=model, baseline_model=ctx.baseline_model)

    return save


def prepare(model: Any, data_source: Any, *, base_dir: Path, seed: int, work_dir: Path,
            reporter: Reporter) -> tuple[keras_model.LoadedModel, BuildContext]:
    """Load the model and the data fitted to it: the context the first stage starts from."""
    loaded = _load_model(model, base_dir)
    dataset = _load_data(data_source, loaded.model, base_dir, seed)
    return loaded, BuildContext(work_dir=work_dir, data=dataset, model=loaded.model,
                                baseline_model=loaded.model, seed=seed, reporter=reporter)


def seed_everything(seed: int) -> None:
    """Start from a clean Keras session (so layer names do not depend on earlier models), seed
    Python, NumPy and TensorFlow, and make TensorFlow ops deterministic."""
    keras = _compat.keras()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    _compat.tf().config.experimental.enable_op_determinism()


def _load_model(model: Any, base_dir: Path) -> keras_model.LoadedModel:
    if isinstance(model, str):
        model = keras_model.ModelSpec(source=model)
    if isinstance(model, keras_model.ModelSpec):
        return keras_model.load(model.source, base_dir, model.safe_mode)
    if not isinstance(model, _compat.keras().Model):
        raise TypeError("model must be a tf_keras Model, a source string or a ModelSpec")
    return keras_model.LoadedModel(model, f"<{type(model).__name__} {model.name}>", "object")


def _load_data(source: Any, model: Any, base_dir: Path, seed: int) -> data.Dataset:
    """The data fitted to the model: a mismatch fails here, before any training."""
    shape, classes = keras_model.input_shape(model), keras_model.output_units(model)
    if isinstance(source, data.Dataset):
        if tuple(source.x_train.shape[1:]) != shape or source.num_classes != classes:
            raise DataError(f"the Dataset has samples {source.x_train.shape[1:]} and "
                            f"{source.num_classes} classes, the model takes {shape} and has "
                            f"{classes} outputs", source.source, "fit the Dataset to the model")
        return source
    spec = source if isinstance(source, data.DataSpec) else data.DataSpec(source=str(source))
    raw = data.load(spec, base_dir, shape, seed)
    return data.fit_to_model(raw, shape, classes, spec)
