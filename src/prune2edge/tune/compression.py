"""Step 5 of tune, for the size objective with `[tune] sparsities` or `clusters`: on the
structural winner, a binary search along a path of (sparsity, clusters) settings for the most
compressed one whose file still meets the budget after the recipe's own stages, with its
`prune` stage's target sparsity and its `cluster` stage's count replaced by the setting's.

The path orders the settings by the bits a weight costs: the zero mask's entropy plus, for
each weight kept, log2 of the values it may take (the clusters; 256 for int8 without them).
Each probe runs all of those stages from the structural winner's model, seeded as a
structural finalist is: a setting equal to the recipe's makes the same file as the winner."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from itertools import product
from pathlib import Path

from ..engine.context import BuildContext
from ..engine.prepare import seed_everything
from ..engine.stage import Stage
from ..errors import RecipeError
from ..progress import Reporter
from ..recipe.schema import Recipe
from ..stages.cluster import Cluster
from ..stages.prune import Prune
from .finalists import budget_floor, measured_in_turns, verdict
from .findings import CLUSTERS, SPARSITY, Finalist, Search, label
from .measure import Scorer, measure_accuracy, run_stages
from .memory import Memory

INT8_VALUES = 256


def turn(stage: Stage, setting: dict[str, float]) -> Stage:
    """`stage` with the setting's sparsity (a prune stage) or clusters (a cluster stage)."""
    if isinstance(stage, Prune) and SPARSITY in setting:
        return replace(stage, schedule=stage.schedule.with_target(setting[SPARSITY]))
    if isinstance(stage, Cluster) and CLUSTERS in setting:
        return replace(stage, number_of_clusters=int(setting[CLUSTERS]))
    return stage


def settings(recipe: Recipe, probe: Sequence[Stage]) -> list[dict[str, float]]:
    """The path: every (sparsity, clusters) pair of the `[tune]` ladders, least compressed
    first; checked before any work (one prune stage to turn if sparsities are searched, one
    cluster stage if clusters are, and every setting valid for them)."""
    spec = recipe.tune
    if spec is None or not spec.compresses:
        return []
    sparsities = _ladder(probe, Prune, spec.sparsities, SPARSITY)
    clusters = _ladder(probe, Cluster, spec.clusters, CLUSTERS)
    path = [{**s, **c} for s, c in product(sparsities, clusters)]
    for setting in path:
        for stage in probe:
            try:
                turn(stage, setting)
            except RecipeError as exc:
                raise exc.located(f"tune: {label(setting)}") from exc
    return sorted(path, key=lambda s: -_bits(s, probe))


def _ladder(probe: Sequence[Stage], kind: type[Stage], ladder: tuple[float, ...],
            knob: str) -> list[dict[str, float]]:
    if not ladder:
        return [{}]
    found = [s for s in probe if isinstance(s, kind)]
    if len(found) != 1:
        raise RecipeError(f"tune.{knob} needs one {kind.kind} stage after the structural one "
                          f"to turn, the recipe has {len(found)}", f"tune.{knob}",
                          f'add one [[stages]] kind = "{kind.kind}" (with a fine-tune after '
                          f"it), or leave {knob} out")
    return [{knob: value} for value in ladder]


def _bits(setting: dict[str, float], probe: Sequence[Stage]) -> float:
    """Estimated bits a weight costs: the zero mask's entropy plus log2(values) a weight kept."""
    stages = [turn(stage, setting) for stage in probe]
    sparsity = next((s.schedule.target for s in stages if isinstance(s, Prune)), 0.0)
    values = next((s.number_of_clusters for s in stages if isinstance(s, Cluster)), INT8_VALUES)
    mask = 0.0 if sparsity == 0 else -(sparsity * math.log2(sparsity)
                                       + (1 - sparsity) * math.log2(1 - sparsity))
    return mask + (1 - sparsity) * math.log2(values)


def compress(search: Search, chosen: Finalist, recipe: Recipe, path: list[dict[str, float]],
             probe: tuple[Stage, ...], scorer: Scorer, dense_file: Path, ctx: BuildContext,
             work: Path, reporter: Reporter, memory: Memory) -> None:
    """Binary search along `path` (the most compressed setting first, `finalists` probes at
    most) on the `chosen` structural winner; the probes are measured beside the dense file
    and join the finalists. A probe an interrupted tune made is taken from its memory."""
    candidate = search.path[chosen.step - 1] if chosen.step else search.dense
    floor = budget_floor(recipe, search.dense.accuracy)
    probes: dict[int, tuple[Path, float]] = {}
    low, high = 0, len(path) - 1
    with reporter.task("tune: compressing", search.spec.finalists, "probes") as task:
        while low <= high and len(probes) < search.spec.finalists:
            index = high if not probes else (low + high) // 2
            name = "-".join(f"{k}{v:g}" for k, v in sorted(path[index].items()))
            if chosen.step and all(turn(s, path[index]) == s for s in probe):
                name = str(chosen.step - 1)  # the recipe's own setting: the winner's file
            kept = memory.finalist(name)
            if kept is None:
                model = scorer.model_of(candidate)
                seed_everything(recipe.seed)
                turned = tuple(turn(stage, path[index]) for stage in probe)
                made = run_stages(turned, model, ctx, work / f"finalist-{name}").tflite["final"]
                accuracy = measure_accuracy(made, ctx.setup.data)
                kept = memory.keep_finalist(name, made, accuracy), accuracy
            probes[index] = kept
            low, high = (index + 1, high) if kept[1] >= floor else (low, index - 1)
            task.advance(status=f"{label(path[index])}: {kept[1]:.2%}")
    ordered = sorted(probes)
    dense, *figures = measured_in_turns(memory, [dense_file, *(probes[i][0] for i in ordered)],
                                        ctx)
    for index, measured in zip(ordered, figures, strict=True):
        search.finalists.append(Finalist(
            step=chosen.step, ratios=chosen.ratios, knobs=path[index], macs=chosen.macs,
            params=chosen.params, validation_accuracy=probes[index][1],
            p50_ms=measured.p50_ms, gzip_bytes=measured.gzip_bytes,
            latency_ratio=measured.p50_ms / dense.p50_ms,
            gzip_ratio=dense.gzip_bytes / measured.gzip_bytes,
            **verdict(search, probes[index][0], probes[index][1] >= floor)))

