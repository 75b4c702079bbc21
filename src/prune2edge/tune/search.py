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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..engine.context import BuildContext
from ..engine.distribute import one_machine, strategy_for
from ..engine.facts import INITIAL
from ..engine.prepare import prepare, seed_everything
from ..engine.stage import Stage
from ..errors import RecipeError
from ..jobs import Jobs
from ..progress import Reporter
from ..recipe.schema import Recipe
from ..recipe.tuning import TuneSpec
from ..stages.convert import Convert
from ..stages.structural import Structural
from ..stages.training import TrainingStage
from .measure import (
    Candidate,
    LatencyModel,
    Scorer,
    carve_validation,
    measure,
    measure_accuracy,
    run_stages,
    score,
    score_step,
    scorer,
)

NOISE = 0.002  # validation accuracy differences below this are not told apart
START = "start.keras"  # the model the search starts from, for worker processes


@dataclass
class Search:
    """Everything the search learnt, in order; what tune.json and the plot are made of."""

    spec: TuneSpec
    dense: Candidate
    trials: list[dict[str, Any]] = field(default_factory=list)
    path: list[Candidate] = field(default_factory=list)  # accepted steps, least pruned first
    latency: LatencyModel | None = None
    finalists: list[dict[str, Any]] = field(default_factory=list)
    winner: dict[str, Any] | None = None
    interrupted: bool = False
    seconds: float = 0.0


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
    runs, training capped at `trial_epochs` (if set), without the int8 errors for reports."""
    stages = list(recipe.stages)
    start = next(i for i, s in enumerate(stages) if isinstance(s, Structural)) + 1
    kinds = [s.kind for s in stages[start:]]
    if "convert" not in kinds:
        raise RecipeError("tune measures the .tflite the recipe builds, but no convert stage "
                          "follows the structural one", "stages",
                          'add [[stages]] kind = "convert" (after kind = "quantize" for int8)')
    cap = recipe.tune.trial_epochs if recipe.tune else None
    return tuple(_probe(s, cap) for s in stages[start:start + kinds.index("convert") + 1])


def _probe(stage: Stage, cap: int | None) -> Stage:
    if isinstance(stage, Convert):
        return replace(stage, layer_errors=False)
    if cap is not None and isinstance(stage, TrainingStage):
        return replace(stage, epochs=min(stage.epochs, cap))
    return stage


def format_stages(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """Those of `stages` that only change the format (quantize, convert): what turns the
    dense model and the latency model's points into files comparable with the finalists'."""
    return tuple(s for s in stages if not (s.trains or s.prunes) and s.requires <= INITIAL)


def run_search(recipe: Recipe, work: Path, reporter: Reporter, jobs: int | None = None) -> Search:
    """Steps 1-4 above, the one-shot trials of each greedy step shared among `jobs`
    processes (default: the `[tune]` table's); Ctrl-C keeps what was found (`interrupted`)."""
    spec = recipe.tune or TuneSpec()
    jobs = jobs or spec.jobs
    template = template_of(recipe)
    probe = probe_stages(recipe)
    start = time.monotonic()
    strategy = strategy_for(one_machine(recipe.distribute, "tune"))
    seed_everything(recipe.seed)
    _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                     work_dir=work, reporter=reporter)
    ctx = ctx.evolve(data=carve_validation(ctx.data, spec.validation_share, recipe.seed),
                     strategy=strategy)
    before = recipe.pipeline.before_pruning()
    if before is not None:
        ctx, _ = before.execute(ctx)
    plan = template.plan_for(ctx.model)
    groups = [g.members[0] for g in plan.prunable]
    dense = score(template, dict.fromkeys(groups, 0.0), ctx)
    search = Search(spec, replace(dense, model=ctx.model))
    try:
        converted = run_stages(format_stages(probe), ctx.model, ctx, work / "dense")
        ctx = ctx.evolve(tflite={"baseline": converted.tflite["baseline"]})
        dense_file = converted.tflite["final"]
        search.latency = _latency_model(search, template, format_stages(probe), dense_file,
                                        ctx, work, reporter)
        if jobs > 1:
            ctx.model.save(work / START)
        with Jobs(jobs, Scorer(template, ctx, keep_models=True), scorer,
                  (work / START, ctx.data, recipe.seed, template)) as pool:
            _greedy(search, pool, start, reporter)
        _finalists(search, recipe, template, probe, dense_file, ctx, work, reporter)
    except KeyboardInterrupt:
        search.interrupted = True
    search.seconds = time.monotonic() - start
    return search


def objective(search: Search, candidate: Candidate) -> float:
    """Predicted p50 (ms) for latency, parameters for size: lower is better."""
    if search.spec.objective == "size" or search.latency is None:
        return float(candidate.params)
    return search.latency.predict(candidate.macs)


def budget_floor(recipe: Recipe, dense_accuracy: float) -> float:
    """The lowest validation accuracy within the recipe's budget."""
    floors = [dense_accuracy - recipe.budgets.max_accuracy_drop / 100
              if recipe.budgets.max_accuracy_drop is not None else 0.0,
              recipe.budgets.min_accuracy or 0.0]
    return max(floors)


def _latency_model(search: Search, template: Structural, formats: tuple[Stage, ...],
                   dense_file: Path, ctx: BuildContext, work: Path,
                   reporter: Reporter) -> LatencyModel:
    ladder = search.spec.ratios
    uniform = [ladder[len(ladder) // 2], ladder[-1]]
    models = [search.dense]
    files = [dense_file]
    with reporter.task("tune: timing converted models for the latency model", 3) as task:
        for ratio in uniform:
            models.append(score(template, dict.fromkeys(search.dense.ratios, ratio), ctx))
            files.append(run_stages(formats, models[-1].model, ctx,
                                    work / f"latency-{ratio}").tflite["final"])
            task.advance()
        measured = measure(files, ctx.data)
        task.advance()
    return LatencyModel.fit([(c.macs, m.p50_ms) for c, m in zip(models, measured, strict=True)])


def _greedy(search: Search, pool: Jobs, start: float, reporter: Reporter) -> None:
    spec = search.spec
    current = search.dense
    limit = search.dense.accuracy - spec.screen_drop / 100
    finished: dict[int, tuple[Candidate, float]] = {}  # a step's trials, and when they ended
    with reporter.task("tune: trials", spec.max_trials) as task:

        def done(step: tuple[int, dict[str, float]], candidate: Candidate) -> None:
            finished[step[0]] = candidate, time.monotonic() - start
            best = search.path[-1] if search.path else search.dense
            task.advance(status=f"best {objective(search, best):.4g}")

        while len(search.trials) < spec.max_trials and not _reached(search, current):
            if _late(spec, start):
                return
            steps = next_steps(spec, current.ratios)[:spec.max_trials - len(search.trials)]
            finished.clear()
            try:
                candidates = pool.map(score_step, list(enumerate(steps)), done)
            finally:  # the step's finished trials, in order, even when Ctrl-C stops it
                search.trials += [_trial(search, *finished[i]) for i in sorted(finished)]
            proposals = [c for c in candidates if c.accuracy >= limit]
            if not proposals:
                return
            current = max(proposals, key=lambda c: _efficiency(search, current, c))
            search.path.append(current)
            accepted = next(t for t in reversed(search.trials)
                            if t["ratios"] == current.settings())
            accepted["accepted"] = True


def next_steps(spec: TuneSpec, ratios: dict[str, float]) -> list[dict[str, float]]:
    """The settings one rung up the ladder from `ratios`: each group's alone (`search =
    "greedy"`), or every group's at once (`"uniform"`, one candidate per step)."""
    up = {group: next((r for r in spec.ratios if r > ratio), None)
          for group, ratio in ratios.items()}
    if spec.search == "uniform":
        raised = {group: ratio for group, ratio in up.items() if ratio is not None}
        return [raised] if len(raised) == len(up) else []
    return [{**ratios, group: ratio} for group, ratio in up.items() if ratio is not None]


def _efficiency(search: Search, current: Candidate, step: Candidate) -> float:
    """Objective saved per accuracy lost; losses under a fifth of a point (noise on a
    validation split of a few thousand samples) count as a fifth of a point, so that a step
    saving much is not passed over for one saving little at no measured cost."""
    gain = objective(search, current) - objective(search, step)
    return gain / max(current.accuracy - step.accuracy, NOISE)


def _reached(search: Search, current: Candidate) -> bool:
    spec = search.spec
    if spec.objective == "latency" and spec.max_latency_ratio is not None:
        return objective(search, current) <= spec.max_latency_ratio * objective(
            search, search.dense)
    if spec.objective == "size" and spec.max_gzip_bytes is not None:
        return current.params <= spec.max_gzip_bytes
    return False


def _late(spec: TuneSpec, start: float) -> bool:
    return spec.time_budget is not None and time.monotonic() - start > spec.time_budget


def _trial(search: Search, candidate: Candidate, seconds: float) -> dict[str, Any]:
    return {"ratios": candidate.settings(), "accepted": False,
            "validation_accuracy_one_shot": candidate.accuracy,
            "macs": candidate.macs, "params": candidate.params,
            "predicted_p50_ms": None if search.latency is None
            else round(search.latency.predict(candidate.macs), 5),
            "seconds": round(seconds, 2)}


def _finalists(search: Search, recipe: Recipe, template: Structural, probe: tuple[Stage, ...],
               dense_file: Path, ctx: BuildContext, work: Path, reporter: Reporter) -> None:
    """Binary search along the greedy path for its most pruned step that meets the budget
    after the `probe` stages (the most pruned step first), `finalists` probes at most; the
    probes are then timed in turns with the dense model."""
    floor = budget_floor(recipe, search.dense.accuracy)
    probes: dict[int, tuple[Candidate, Path, float]] = {}
    low, high = 0, len(search.path) - 1
    with reporter.task("tune: fine-tuning the finalists", search.spec.finalists) as task:
        while low <= high and len(probes) < search.spec.finalists:
            index = high if not probes else (low + high) // 2
            candidate = search.path[index]
            model = candidate.model or score(template, candidate.ratios, ctx).model
            seed_everything(recipe.seed)
            path = run_stages(probe, model, ctx,
                              work / f"finalist-{index}").tflite["final"]
            accuracy = measure_accuracy(path, ctx.data)
            probes[index] = (candidate, path, accuracy)
            low, high = (index + 1, high) if accuracy >= floor else (low, index - 1)
            task.advance(status=f"step {index + 1}/{len(search.path)}: {accuracy:.2%}")
    ordered = sorted(probes)
    dense, *measured = measure([dense_file, *(probes[i][1] for i in ordered)], ctx.data)
    search.finalists.append({"ratios": {}, "macs": search.dense.macs,
                             "params": search.dense.params, "dense": True,
                             "validation_accuracy": search.dense.accuracy,
                             "p50_ms": dense.p50_ms, "gzip_bytes": dense.gzip_bytes,
                             "within_budget": True})
    for index, figures in zip(ordered, measured, strict=True):
        candidate = probes[index][0]
        predicted = objective(search, candidate) if search.spec.objective == "latency" else None
        search.finalists.append({
            "step": index + 1, "ratios": candidate.settings(), "macs": candidate.macs,
            "params": candidate.params, "validation_accuracy": probes[index][2],
            "p50_ms": figures.p50_ms, "gzip_bytes": figures.gzip_bytes,
            "predicted_p50_ms": predicted, "latency_ratio": figures.p50_ms / dense.p50_ms,
            "gzip_ratio": dense.gzip_bytes / figures.gzip_bytes,
            "within_budget": probes[index][2] >= floor})
    key = "p50_ms" if search.spec.objective == "latency" else "gzip_bytes"
    search.winner = min((f for f in search.finalists if f["within_budget"]),
                        key=lambda f: f[key])
