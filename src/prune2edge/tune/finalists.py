"""Step 4 of tune: a binary search along the greedy path for its most pruned step that meets
the accuracy budget once it has run the recipe's own stages after the structural one; the
probes are then measured beside the dense model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.context import BuildContext
from ..engine.prepare import seed_everything
from ..engine.stage import Stage
from ..progress import Reporter
from ..recipe.schema import Recipe
from .findings import Finalist, Search, objective
from .fitting import Footprint
from .measure import Candidate, Measured, Scorer, measure, measure_accuracy, run_stages
from .memory import Memory


def budget_floor(recipe: Recipe, dense_accuracy: float) -> float:
    """The lowest validation accuracy within the recipe's budget."""
    floors = [dense_accuracy - recipe.budgets.max_accuracy_drop / 100
              if recipe.budgets.max_accuracy_drop is not None else 0.0,
              recipe.budgets.min_accuracy or 0.0]
    return max(floors)


def finalists(search: Search, recipe: Recipe, scorer: Scorer, probe: tuple[Stage, ...],
              dense_file: Path, ctx: BuildContext, work: Path, reporter: Reporter,
              memory: Memory) -> None:
    """Binary search along the greedy path for its most pruned step that meets the budget
    after the `probe` stages (the most pruned step first), `finalists` probes at most; the
    probes are then timed in turns with the dense model. A probe an interrupted tune made is
    taken from its memory."""
    floor = budget_floor(recipe, search.dense.accuracy)
    probes: dict[int, tuple[Candidate, Path, float]] = {}
    low, high = 0, len(search.path) - 1
    with reporter.task("tune: fine-tuning", search.spec.finalists, "finalists") as task:
        while low <= high and len(probes) < search.spec.finalists:
            index = high if not probes else (low + high) // 2
            candidate = search.path[index]
            kept = memory.finalist(str(index))
            if kept is None:
                model = scorer.model_of(candidate)
                seed_everything(recipe.seed)
                made = run_stages(probe, model, ctx, work / f"finalist-{index}").tflite["final"]
                accuracy = measure_accuracy(made, ctx.setup.data)
                kept = memory.keep_finalist(str(index), made, accuracy), accuracy
            path, accuracy = kept
            probes[index] = (candidate, path, accuracy)
            low, high = (index + 1, high) if accuracy >= floor else (low, index - 1)
            task.advance(status=f"step {index + 1}/{len(search.path)}: {accuracy:.2%}")
    ordered = sorted(probes)
    dense, *measured = measured_in_turns(memory, [dense_file, *(probes[i][1] for i in ordered)],
                                         ctx)
    search.finalists.append(Finalist(
        ratios={}, macs=search.dense.macs, params=search.dense.params,
        validation_accuracy=search.dense.accuracy, p50_ms=dense.p50_ms,
        gzip_bytes=dense.gzip_bytes, **verdict(search, dense_file, True)))
    for index, figures in zip(ordered, measured, strict=True):
        candidate = probes[index][0]
        predicted = objective(search, candidate) if search.spec.objective == "latency" else None
        search.finalists.append(Finalist(
            step=index + 1, ratios=candidate.settings(), macs=candidate.macs,
            params=candidate.params, validation_accuracy=probes[index][2],
            p50_ms=figures.p50_ms, gzip_bytes=figures.gzip_bytes,
            predicted_p50_ms=predicted, latency_ratio=figures.p50_ms / dense.p50_ms,
            gzip_ratio=dense.gzip_bytes / figures.gzip_bytes,
            **verdict(search, probes[index][1], probes[index][2] >= floor)))


def verdict(search: Search, file: Path, accurate: bool) -> dict[str, Any]:
    """A finalist's `within_budget` (accurate enough and, with a memory budget, fitting it as
    TFLM measures the file) and `memory` (its footprint, the arena verified on TFLM where
    an arena is asked for, where the search needs footprints)."""
    if not search.needs_footprints:
        return {"within_budget": accurate}
    footprint = Footprint.of_file(file, verify=search.verifies_arena)
    return {"within_budget": accurate and search.budget.fits(footprint.arena,
                                                             footprint.flash_bytes),
            "footprint": footprint}


def measured_in_turns(memory: Memory, files: list[Path], ctx: BuildContext) -> list[Measured]:
    """The files' p50 and gzip size, timed in turns (or as an earlier run of this tune timed
    them: timings vary, and the winner must not change when a tune resumes)."""
    names = [file.name for file in files]
    known = memory.measured(names)
    if known is None:
        measured = measure(files, ctx.setup.data)
        memory.keep_measured(names, [(m.p50_ms, m.gzip_bytes) for m in measured])
        return measured
    return [Measured(p50, gzip) for p50, gzip in known]
