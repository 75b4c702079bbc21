"""`tune`: the fastest (or smallest) model within the recipe's accuracy budget, found by a
NetAdapt-style greedy search over the structural stage's per-group ratios.

1. The recipe's stages before pruning (`train`) run on the training split minus a held-out
   validation share; everything the search selects on is that validation split.
2. Int8 `.tflite` files of the dense model and of uniformly pruned ones are timed with
   LiteRT; a latency model (p50 from MACs) is fitted to them.
3. Greedy: from nothing removed, every group tries the next ratio of the ladder, each
   candidate scored one-shot (channels removed by the template's criterion, the layers after
   them refit by least squares, no fine-tune); the step with the most predicted latency (or
   parameters) saved per validation point lost wins, while the one-shot loss stays within
   `screen_drop`. Until no step qualifies, a target is reached, or trials or time run out.
4. A binary search along that path (`finalists` probes, the most pruned step first) finds its
   most pruned step that meets the budget once it has run the recipe's own stages after the
   structural one (fine-tune, unstructured pruning, quantization, conversion; training capped
   at `trial_epochs` if set), so a probe's file is what the build would make. The probes are
   measured — validation accuracy, real p50 (timed in turns with the dense model, converted
   the same way) and gzip size — the best one within the budget wins, and is written as a
   plain recipe (`tuned.toml`) whose build — run at the end, on the full training split,
   scored on the test split — is what `prune2edge build tuned.toml` reproduces byte for byte.
5. For the size objective, with `[tune] sparsities` or `clusters`: on that winner, a second
   binary search along the (sparsity, clusters) settings, least bits a weight last, each
   probe the recipe's stages with its `prune` target and `cluster` count replaced; every
   probe of the size objective strips the names from its file (`strip_names`, which costs
   no accuracy).

With `[budgets] max_arena_bytes` / `max_flash_bytes` (or `objective = "arena"`), each accepted
step's file (the recipe's quantize and convert) has its arena predicted and its flash counted:
the budget is the greedy search's target and the distance to it its cost, and the finalists'
arenas are measured on TFLM (`fitting.py`).

Steps 3, 4 and 5 live in `greedy.py`, `finalists.py` and `compression.py`; what they find is
kept in `memory.py` as it is found, so an interrupted tune resumes (`tune --resume`) where it
stopped.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..engine.checkpoint import fingerprint
from ..engine.context import BuildContext
from ..engine.distribute import one_machine, strategy_for
from ..engine.facts import INITIAL, Fact
from ..engine.prepare import prepare, seed_everything
from ..engine.stage import Stage
from ..errors import RecipeError
from ..jobs import Jobs
from ..keras.model import digest
from ..progress import Reporter
from ..recipe.schema import Recipe
from ..recipe.tuning import TuneSpec
from ..sizes import Size
from ..stages.convert import Convert
from ..stages.structural import Structural
from ..stages.training import TrainingStage
from ..stages.validate import Validate
from .compression import compress, settings
from .finalists import finalists
from .findings import Search, choose
from .fitting import Footprint, MemoryBudget
from .greedy import greedy
from .measure import (
    Candidate,
    LatencyModel,
    Scorer,
    carve_validation,
    measure,
    run_stages,
)
from .memory import Memory

START = "start.keras"  # the model the search starts from, for worker processes


def template_of(recipe: Recipe) -> Structural:
    """The structural stage whose ratios tune searches; the recipe must have exactly one."""
    found = [s for s in recipe.stages if isinstance(s, Structural)]
    if len(found) != 1:
        raise RecipeError(f"tune searches the ratios of one structural stage; the recipe has "
                          f"{len(found)}", "stages", 'add one [[stages]] kind = "structural" '
                          "(its criterion and min_width are kept) followed by a finetune")
    if recipe.budgets.max_accuracy_drop is None and recipe.budgets.min_accuracy is None:
        raise RecipeError("tune needs an accuracy budget", "budgets",
                          "set max_accuracy_drop (points) or min_accuracy in [budgets]")
    return replace(found[0], allocation="uniform")


def probe_stages(recipe: Recipe) -> tuple[Stage, ...]:
    """The recipe's stages after its structural one, through its convert: what each finalist
    runs, training capped at `trial_epochs` (if set), without the int8 errors for reports,
    and for the size objective with the names stripped from the file."""
    stages = list(recipe.stages)
    start = next(i for i, s in enumerate(stages) if isinstance(s, Structural)) + 1
    end = next((i for i, s in enumerate(stages) if i >= start and Fact.TFLITE in s.made()), None)
    if end is None:
        raise RecipeError("tune measures the .tflite the recipe builds, but no convert stage "
                          "follows the structural one", "stages",
                          'add [[stages]] kind = "convert" (after kind = "quantize" for int8)')
    spec = recipe.tune or TuneSpec()
    micro = any(isinstance(s, Validate) and s.for_micro for s in stages[end + 1:])
    return tuple(_probe(s, spec, micro) for s in stages[start:end + 1])


def _probe(stage: Stage, spec: TuneSpec, micro: bool) -> Stage:
    """`stage` as a probe runs it; a convert whose file the build runs on TFLM (`micro`) is
    dense, as the build's convert chooses then (TFLM has no DENSIFY kernel)."""
    cap = spec.trial_epochs
    if isinstance(stage, Convert):
        return replace(stage, layer_errors=False,
                       strip_names=stage.strip_names or spec.objective == "size",
                       sparse="off" if micro and stage.sparse == "auto" else stage.sparse)
    if cap is not None and isinstance(stage, TrainingStage):
        return replace(stage, epochs=min(stage.epochs, cap))
    return stage


def format_stages(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """Those of `stages` that only change the format (quantize, convert): what turns the
    dense model and the latency model's points into files comparable with the finalists'.
    Not those that train, prune or wrap the model (cluster)."""
    return tuple(s for s in stages if not (s.trains or s.prunes) and s.requires <= INITIAL
                 and Fact.WRAPPED not in s.provides)


def run_search(recipe: Recipe, work: Path, reporter: Reporter, out: Path,
               jobs: int | None = None, resume: bool = False) -> Search:
    """Steps 1-4 above, the one-shot trials of each greedy step shared among `jobs`
    processes (default: the `[tune]` table's), what is found kept in OUT's memory (read
    back with `resume`); Ctrl-C keeps what was found (`interrupted`)."""
    spec = recipe.tune or TuneSpec()
    jobs = jobs or spec.jobs
    template = template_of(recipe)
    probe = probe_stages(recipe)
    path = settings(recipe, probe)
    formats = format_stages(probe)
    start = time.monotonic()
    strategy = strategy_for(one_machine(recipe.distribute, "tune"))
    seed_everything(recipe.seed)
    _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                     work_dir=work, reporter=reporter, command="tune")
    memory = Memory(out, fingerprint(recipe.describe(), recipe.seed, ctx.setup.data.digest(),
                                     digest(ctx.model)), resume)
    ctx = _started(recipe, memory, ctx.set_up(
        data=carve_validation(ctx.setup.data, spec.validation_share, recipe.seed),
        strategy=strategy))
    plan = template.plan_for(ctx.model)
    groups = [g.members[0] for g in plan.prunable]
    scorer = Scorer(template, ctx)
    dense = scorer.score(dict.fromkeys(groups, 0.0))
    search = Search(spec, replace(dense, model=ctx.model), budget=MemoryBudget.of(recipe))

    def figures_of(candidate: Candidate) -> dict[str, Any]:
        """The gzip bytes, predicted arena and flash of the file the recipe's quantize and
        convert make of it (made once, kept in the tune's memory)."""
        settings = candidate.settings()
        if "predicted_arena_bytes" not in (memory.trial(settings) or {}):
            model = candidate.model or scorer.score(candidate.ratios).model
            made = run_stages(formats, model, ctx, work / "size").tflite["final"]
            memory.keep_trial(settings, {"gzip_bytes": Size.of_file(made).gzip_bytes,
                                         **Footprint.of_file(made).to_dict()})
        return memory.trial(settings)  # type: ignore[return-value]

    def gzip_of(candidate: Candidate) -> int:
        return int(figures_of(candidate)["gzip_bytes"])

    def footprint_of(candidate: Candidate) -> Footprint:
        return Footprint(**{k: v for k, v in figures_of(candidate).items()
                            if k in Footprint.__dataclass_fields__})

    try:
        converted = run_stages(formats, ctx.model, ctx, work / "dense")
        ctx = ctx.evolve(tflite={"baseline": converted.tflite["baseline"]})
        dense_file = converted.tflite["final"]
        if search.needs_footprints:
            search.dense = replace(search.dense, footprint=Footprint.of_file(dense_file))
        search.latency = _latency_model(search, scorer, formats, dense_file, ctx, work,
                                        reporter, memory)
        if jobs > 1:
            ctx.model.save(work / START)
        with Jobs(jobs, scorer, Scorer.in_worker,
                  (work / START, ctx.setup.data, recipe.seed, template)) as pool:
            greedy(search, pool, start, reporter, memory, gzip_of, footprint_of)
        finalists(search, recipe, scorer, probe, dense_file, ctx, work, reporter, memory)
        structural = choose(search)
        if path and structural is not None:
            compress(search, structural, recipe, path, probe, scorer, dense_file, ctx, work,
                     reporter, memory)
            choose(search)
    except KeyboardInterrupt:
        search.interrupted = True
    search.seconds = time.monotonic() - start
    return search


def _started(recipe: Recipe, memory: Memory, ctx: BuildContext) -> BuildContext:
    """The context after the recipe's stages before pruning (its training): the model an
    earlier run of this tune kept, or trained now and kept."""
    model = memory.start_model()
    if model is not None:
        return ctx.evolve(model=model, baseline_model=model)
    before = recipe.pipeline.before_pruning()
    if before is not None:
        ctx, _ = before.execute(ctx)
    memory.keep_start(ctx.model)
    return ctx


def _latency_model(search: Search, scorer: Scorer, formats: tuple[Stage, ...],
                   dense_file: Path, ctx: BuildContext, work: Path, reporter: Reporter,
                   memory: Memory) -> LatencyModel:
    """p50 against MACs, from the dense model and two uniformly pruned ones, converted as
    the recipe converts and timed in turns (or the points an earlier run timed)."""
    if memory.latency_points is not None:
        return LatencyModel.fit(memory.latency_points)
    ladder = search.spec.ratios
    uniform = [ladder[len(ladder) // 2], ladder[-1]]
    models = [search.dense]
    files = [dense_file]
    with reporter.task("tune: timing converted models for the latency model", 3, "models") as task:
        for ratio in uniform:
            models.append(scorer.score(dict.fromkeys(search.dense.ratios, ratio)))
            files.append(run_stages(formats, models[-1].model, ctx,
                                    work / f"latency-{ratio}").tflite["final"])
            task.advance()
        measured = measure(files, ctx.setup.data)
        task.advance()
    points = [(c.macs, m.p50_ms) for c, m in zip(models, measured, strict=True)]
    memory.keep_latency_points(points)
    return LatencyModel.fit(points)
