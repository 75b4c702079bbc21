"""Pipeline: ordered stages, checked before any work, run with timing into a build directory."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from .. import native_log
from ..errors import BuildFailed, Interrupted, ModelError, Prune2EdgeError, RecipeError
from ..keras.model import digest
from ..report.results import StageResult
from ..report.schema import BuildReport
from ..requirements import BUILD, Requirement
from ..requirements import check as check_installed
from .assemble import assemble, write
from .checkpoint import Checkpointer, EpochSaver, ResumePoint, describe_checkpoint, fingerprint
from .context import BuildContext, StageRecord
from .distribute import strategy_for
from .handback import hand_back
from .options import BuildOptions
from .order import check_order
from .outdir import BuildDir
from .prepare import prepare, seed_everything
from .stage import Stage


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

    def requirements(self) -> list[tuple[Requirement, str | None]]:
        """What running this pipeline needs installed, and for whom."""
        needed: list[tuple[Requirement, str | None]] = [(r, None) for r in BUILD]
        for index, stage in enumerate(self.stages, 1):
            needed += [(r, f"stage {index} ({stage.kind})") for r in stage.requirements()]
        return needed

    def before_pruning(self) -> Pipeline | None:
        """The stages before the first one that prunes (None when that is the first)."""
        first = next((i for i, s in enumerate(self.stages) if s.prunes), len(self.stages))
        return Pipeline(self.stages[:first]) if first else None

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
                _check_engine(stage, ctx)
                stage.preflight(ctx.controlled(remaining=self.stages[index:]))
            except Prune2EdgeError as exc:
                raise exc.located(f"stage {index} ({stage.kind})") from exc
        records: list[StageRecord] = []
        start = 1
        if resume is not None:
            records = list(resume.records)
            start = resume.stage_index
            ctx = ctx.evolve(model=resume.model, baseline_model=resume.baseline_model,
                             models=resume.models, masks=resume.masks)
        for index, stage in enumerate(self.stages, 1):
            ctx = ctx.controlled(remaining=self.stages[index:]).with_result(StageResult())
            if index < start:
                ctx = stage.replay(ctx)
                continue
            resumed = tuple(resume.epoch_logs) if resume and index == start else ()
            saver = EpochSaver(checkpoints, index, records, ctx) \
                if checkpoints is not None and stage.trains else None
            ctx.setup.reporter.stage_started(index, total, stage.kind, stage.summary())
            started = time.perf_counter()
            ctx = stage.run(ctx.controlled(index=index, resume_logs=resumed, on_epoch_end=saver))
            seconds = time.perf_counter() - started
            records.append(StageRecord(_record_name(stage.kind, records), stage.kind, seconds,
                                       stage.params(), ctx.result))
            ctx.setup.reporter.stage_finished(index, total, stage.kind, seconds,
                                        ctx.result.to_dict())
            ctx = ctx.controlled(index=0, resume_logs=(), on_epoch_end=None)
            if ctx.failure:
                break
            if saver is not None:  # resume after this stage rather than inside it
                saver.stage_done(ctx, records)
        return ctx.controlled(remaining=()).with_result(StageResult()), records

    def run(self, model: Any, data_source: Any, options: BuildOptions | None = None,
            **settings: Any) -> BuildReport:
        """Build: load the model and data, run the stages, write the report, as `options`
        (or its fields given as keywords: `out="build/x", seed=1`) say.

        `model` is a tf_keras model, a source string or a ModelSpec; `data_source` a Dataset,
        a source string or a DataSpec. `resume` continues an interrupted build of the same
        recipe from its last checkpoint. A build whose result fails a check (e.g. Keras and
        the .tflite disagree) still writes its report, marked failed, then raises BuildFailed.
        """
        options = replace(options, **settings) if options else BuildOptions(**settings)
        check_installed(self.requirements())
        started = time.perf_counter()
        try:
            report = self._build(model, data_source, options, started)
        except KeyboardInterrupt as exc:
            saved = describe_checkpoint(options.out)
            fix = (f"the checkpoint ({saved}) is kept: run the same command with --resume"
                   if saved else "nothing was checkpointed yet: run the build again")
            raise Interrupted("interrupted: stopped cleanly, nothing half-written was kept",
                              str(options.out), fix) from exc
        if report.failure:
            error = BuildFailed(report.failure, str(options.out),
                                "the report (marked failed) has the figures; see report.md")
            error.report = report
            raise error
        return report

    def _build(self, model: Any, data_source: Any, options: BuildOptions,
               started: float) -> BuildReport:
        recipe = options.recipe or {"stages": [s.params() for s in self]}
        seed, reporter = options.seed, options.reporter
        with BuildDir(options.out, options.force, options.resume) as build_dir:
            staging = build_dir.staging
            with native_log.captured(staging / "build.log" if options.log_native else None):
                strategy = strategy_for(options.distribute)  # before other TensorFlow work
                seed_everything(seed)
                gap = next(filter(None, (s.unsupported("keras3") for s in self)), None)
                loaded, ctx = prepare(model, data_source, base_dir=options.base_dir, seed=seed,
                                      work_dir=staging, reporter=reporter, keras3_gap=gap)
                checkpoints = Checkpointer(build_dir.out, fingerprint(
                    recipe, seed, ctx.setup.data.digest(), digest(loaded.model)),
                    ctx.setup.engine)
                point = checkpoints.load(self.stages) if options.resume else None
                ctx, records = self.execute(ctx.set_up(strategy=strategy), checkpoints, point)
                hand_back(ctx.setup.engine, ctx.keras_model, ctx.masks, staging,
                          h5=loaded.kind == "h5")
                report = assemble(ctx, records, self.stages, name=options.name, seed=seed,
                                  model=loaded, recipe=recipe,
                                  seconds=time.perf_counter() - started,
                                  resumed=point.describe() if point else None)
                write(report, staging, self.stages)
            build_dir.commit()
        return report.located(options.out)

def _check_engine(stage: Stage, ctx: BuildContext) -> None:
    """Refuse a stage the build's model engine cannot run, before any work."""
    reason = stage.unsupported(ctx.setup.engine.name)
    if reason is not None:
        raise ModelError(f"the keras3 engine cannot run this yet: {reason}", None,
                         'set [model] engine = "tf_keras" to translate the model (functional '
                         "and Sequential models), or leave the stage out")


def _record_name(kind: str, records: list[StageRecord]) -> str:
    """'finetune', then 'finetune-2' for the second stage of a kind."""
    count = sum(r.kind == kind for r in records) + 1
    return kind if count == 1 else f"{kind}-{count}"
