"""What tune writes: tune.json (every trial and finalist), pareto.png, and the winner as a
plain recipe, tuned.toml, that `prune2edge build` runs like any other."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import tomli_w

from .. import _compat
from ..params import to_mapping
from ..recipe.load import resolve
from ..recipe.overrides import apply_overrides
from ..recipe.schema import Recipe
from ..sources import FILE, MODULE, resolve_path
from ..stages.cluster import Cluster
from ..stages.convert import Convert
from ..stages.prune import Prune
from ..stages.structural import Structural
from .compression import turn
from .findings import Search

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TUNE_JSON, PARETO_PNG, TUNED_TOML = "tune.json", "pareto.png", "tuned.toml"


def tuned_document(recipe: Recipe, ratios: dict[str, float],
                   knobs: dict[str, float] | None = None) -> dict[str, Any]:
    """The recipe as written (with its overrides), the structural stage set to `ratios` with
    the refit, the stages after it turned to `knobs` (sparsity, clusters), names stripped
    from the file for the size objective, no [tune] table, and file sources made absolute
    (tuned.toml lives elsewhere)."""
    path = resolve(recipe.path) if recipe.path else None
    document = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    document = apply_overrides(document, recipe.overrides)
    document.pop("tune", None)
    document["name"] = f"{recipe.name}-tuned"
    index = next(i for i, s in enumerate(recipe.stages) if isinstance(s, Structural))
    table = document["stages"][index]
    table.pop("allocation", None)
    table.update(ratio=0.0, ratios=dict(ratios), reconstruct=True)
    size = recipe.tune is not None and recipe.tune.objective == "size"
    for stage, table in zip(recipe.stages[index + 1:], document["stages"][index + 1:],
                            strict=True):
        turned = turn(stage, knobs or {})
        if isinstance(turned, Prune) and turned is not stage:
            table["schedule"] = to_mapping(turned.schedule)
        elif isinstance(turned, Cluster) and turned is not stage:
            table["number_of_clusters"] = turned.number_of_clusters
        elif isinstance(stage, Convert) and size:
            table["strip_names"] = True
    for section in ("model", "data"):
        document[section]["source"] = absolute(document[section]["source"], recipe.base_dir)
    return document


def absolute(source: str, base_dir: Path) -> str:
    """A recipe source with its file path (if it names one) made absolute."""
    if source.startswith("builtin:") or MODULE.match(source):
        return source
    match = FILE.match(source)
    if match:
        return f"{resolve_path(match['path'], base_dir).resolve()}:{match['name']}"
    return str(resolve_path(source, base_dir).resolve())


def write_tuned(document: dict[str, Any], path: Path, note: str) -> None:
    header = "".join(f"# {line}\n" for line in note.splitlines())
    path.write_text(header + tomli_w.dumps(document))


def write_json(search: Search, path: Path, final: dict[str, Any] | None = None) -> None:
    doc = {"schema": "prune2edge.tune/1", "objective": search.spec.objective,
           "search": search.spec.search,
           "interrupted": search.interrupted, "seconds": round(search.seconds, 1),
           "dense": {"ratios": {}, "validation_accuracy": search.dense.accuracy,
                     "macs": search.dense.macs, "params": search.dense.params},
           "latency_model": None if search.latency is None else {
               "intercept_ms": search.latency.intercept, "ms_per_mac": search.latency.slope,
               "points": search.latency.points},
           "trials": [t.to_dict() for t in search.trials],
           "finalists": [f.to_dict() for f in search.finalists],
           "winner": search.winner and search.winner.to_dict(),
           "final": final}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def plot(search: Search, path: Path, name: str) -> None:
    """pareto.png: see `figure`."""
    fig = figure(search, name)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _compat.pyplot().close(fig)


def figure(search: Search, name: str) -> Any:
    """Validation accuracy against predicted p50 (every trial, one-shot) and against measured
    p50 and gzip size (the finalists; with a memory budget or the arena objective, TFLM's
    arena instead of the size), the frontier drawn and the winner marked; a panel with
    nothing to draw yet says why."""
    fig, axes = _compat.pyplot().subplots(1, 3, figsize=(14, 4.2))
    trials = [t for t in search.trials if t.predicted_p50_ms is not None]
    panels: list[tuple[Any, list[Any], str, str, str]] = [
        (axes[0], trials, "predicted_p50_ms", "validation_accuracy_one_shot",
         "predicted p50 (ms), one-shot accuracy"),
        (axes[1], search.finalists, "p50_ms", "validation_accuracy",
         "measured p50 (ms), after the recipe's stages"),
        (axes[2], search.finalists, "arena_bytes", "validation_accuracy",
         "TFLM tensor arena (bytes)") if search.needs_footprints else
        (axes[2], search.finalists, "gzip_bytes", "validation_accuracy",
         "gzip bytes (.tflite)")]
    for ax, rows, x_key, y_key, label in panels:
        if not rows:
            _empty(ax, label, search)
            continue
        xs = [getattr(r, x_key) for r in rows]
        ys = [getattr(r, y_key) * 100 for r in rows]
        ax.scatter(xs, ys, s=18, color="#8aa7d6", label="candidates")
        frontier = pareto_frontier(list(zip(xs, ys, strict=True)))
        if frontier:
            ax.plot(*zip(*frontier, strict=True), color="#3b7dd8", label="Pareto frontier")
        steps = [r for r in rows if getattr(r, "accepted", False)]
        if steps:
            ax.plot([getattr(r, x_key) for r in steps], [getattr(r, y_key) * 100 for r in steps],
                    marker="o", color="#999999", linestyle=":", label="greedy path")
        winner = search.winner
        if winner is not None and rows is search.finalists:
            ax.scatter([getattr(winner, x_key)], [getattr(winner, y_key) * 100], s=90,
                       marker="*", color="#d83b3b", zorder=3, label="chosen")
        ax.set_xlabel(label)
        ax.set_ylabel("validation accuracy (%)")
        ax.legend(fontsize="small")
    fig.suptitle(f"{name}: tune ({search.spec.objective})"
                 + (", interrupted" if search.interrupted else ""))
    fig.tight_layout()
    return fig


def _empty(ax: Any, label: str, search: Search) -> None:
    """A panel with nothing to draw says why instead of showing empty axes."""
    why = ("the search was interrupted before any candidate got here"
           if search.interrupted else "no candidate got this far")
    ax.text(0.5, 0.5, f"nothing to show:\n{why}", ha="center", va="center", wrap=True,
            transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(label)


def pareto_frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both cost (lower) and accuracy (higher)."""
    frontier: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or y > frontier[-1][1]:
            frontier.append((x, y))
    return frontier
