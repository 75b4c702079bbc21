"""`tune()`: search, write tune.json / pareto.png / tuned.toml all or nothing, then build the
winner from tuned.toml exactly as `prune2edge build` would."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import storage
from ..engine.checkpoint import RESUME_DIR
from ..engine.outdir import BuildDir
from ..errors import Interrupted
from ..progress import Reporter
from ..recipe.build import build
from ..recipe.load import load_recipe
from ..recipe.schema import Recipe
from ..report.schema import BuildReport
from ..requirements import TFLM, Requirement
from ..requirements import check as check_installed
from .findings import Search
from .fitting import unmet
from .output import PARETO_PNG, TUNE_JSON, TUNED_TOML, plot, tuned_document, write_json, write_tuned
from .search import run_search

BUILD_DIR = "build"


@dataclass(frozen=True)
class TuneResult:
    search: Search
    out: Path
    report: BuildReport  # the winner's build

    @property
    def tuned_recipe(self) -> Path:
        return self.out / TUNED_TOML

    def final(self) -> dict[str, Any]:
        """The winner's test figures, from its build."""
        acc, latency = self.report.accuracy, self.report.latency_ms
        sizes = self.report.sizes
        return {"test_accuracy": acc.get("tflite"), "baseline_test_accuracy": acc.get("baseline"),
                "change_pt": acc.get("change_pt"),
                "p50_ms": latency.get("final", {}).get("p50"),
                "baseline_p50_ms": latency.get("baseline", {}).get("p50"),
                "gzip_bytes": sizes.get("final", {}).get("gzip_bytes"),
                "baseline_gzip_bytes": sizes.get("baseline", {}).get("gzip_bytes"),
                "build_seconds": self.report.seconds}


def requirements(recipe: Recipe) -> list[tuple[Requirement, str | None]]:
    """What the tune needs installed: the recipe's, and TFLM to verify the finalists'
    arenas for the arena objective."""
    arena = recipe.tune is not None and recipe.tune.objective == "arena"
    return [*recipe.requirements(), *([(TFLM.without('or use objective = "latency" or "size"'),
                                        "tune.objective")] if arena else [])]


def tune(recipe: Recipe | str | Path, out: str | Path | None = None, *, force: bool = False,
         resume: bool = False, overrides: tuple[str, ...] = (), jobs: int | None = None,
         reporter: Reporter | None = None) -> TuneResult:
    """Search the recipe's structural ratios within its accuracy budget (its `[tune]` table
    says how; `jobs` processes, if given, replace its `jobs`), then build the winner into
    OUT/build. What is found is kept as it is found: an interrupted tune writes tune.json
    and pareto.png of the search so far (no tuned.toml: no winner was verified) and goes on
    from there with `resume`."""
    reporter = reporter or Reporter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    check_installed(requirements(recipe))
    out = Path(out or Path("build") / f"{recipe.name}-tune")
    with BuildDir(out, force, resume) as build_dir:
        staging = build_dir.staging
        search = run_search(recipe, staging / "work", reporter, build_dir.out, jobs, resume)
        shutil.rmtree(staging / "work", ignore_errors=True)
        write_json(search, staging / TUNE_JSON)
        plot(search, staging / PARETO_PNG, recipe.name)
        for stale in (TUNED_TOML, BUILD_DIR):  # an earlier tune's, replaced by this one
            storage.remove(out / stale)
        if not search.interrupted and search.winner is not None:
            note = (f"Written by prune2edge tune from {recipe.path or recipe.name}: the "
                    f"{search.spec.objective} winner within the budget.\n"
                    "Build it with: prune2edge build tuned.toml")
            write_tuned(tuned_document(recipe, search.winner.ratios, search.winner.knobs),
                        staging / TUNED_TOML, note)
        build_dir.commit(keep_checkpoint=True)  # until the winner is built
    if search.interrupted:
        raise Interrupted(f"interrupted: stopped cleanly after {len(search.trials)} trial(s) "
                          f"and {len(search.finalists)} finalist(s); tune.json and pareto.png "
                          "show them, no tuned.toml was written (no winner was verified)",
                          str(out), "run the same command with --resume to go on from there")
    if search.winner is None:
        raise unmet(search.budget, [(f.describe(), f.footprint)
                                    for f in search.finalists if f.footprint])
    report = build(out / TUNED_TOML, out / BUILD_DIR, force=True,
                   resume=(out / BUILD_DIR / RESUME_DIR).is_dir(), reporter=reporter,
                   log_native=True)
    storage.remove(out / RESUME_DIR)
    result = TuneResult(search, out, report)
    write_json(search, out / TUNE_JSON, result.final())
    return result
