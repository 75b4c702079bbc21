"""`tune()`: search, write tune.json / pareto.png / tuned.toml all or nothing, then build the
winner from tuned.toml exactly as `prune2edge build` would."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.outdir import BuildDir
from ..progress import Reporter
from ..recipe.build import build
from ..recipe.load import load_recipe
from ..recipe.schema import Recipe
from ..report.schema import BuildReport
from .output import PARETO_PNG, TUNE_JSON, TUNED_TOML, plot, tuned_document, write_json, write_tuned
from .search import Search, run_search

BUILD_DIR = "build"


@dataclass(frozen=True)
class TuneResult:
    search: Search
    out: Path
    report: BuildReport | None  # the winner's build (None when interrupted)

    @property
    def tuned_recipe(self) -> Path:
        return self.out / TUNED_TOML

    def final(self) -> dict[str, Any] | None:
        """The winner's test figures, from its build."""
        if self.report is None:
            return None
        acc, latency = self.report.accuracy, self.report.latency_ms
        sizes = self.report.sizes
        return {"test_accuracy": acc.get("tflite"), "baseline_test_accuracy": acc.get("baseline"),
                "drop_pt": acc.get("drop_pt"),
                "p50_ms": latency.get("final", {}).get("p50"),
                "baseline_p50_ms": latency.get("baseline", {}).get("p50"),
                "gzip_bytes": sizes.get("final", {}).get("gzip_bytes"),
                "baseline_gzip_bytes": sizes.get("baseline", {}).get("gzip_bytes"),
                "build_seconds": self.report.seconds}


def tune(recipe: Recipe | str | Path, out: str | Path | None = None, *, force: bool = False,
         overrides: tuple[str, ...] = (), jobs: int | None = None,
         reporter: Reporter | None = None) -> TuneResult:
    """Search the recipe's structural ratios within its accuracy budget (its `[tune]` table
    says how; `jobs` processes, if given, replace its `jobs`), then build the winner into
    OUT/build. Ctrl-C keeps what was found."""
    reporter = reporter or Reporter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    out = Path(out or Path("build") / f"{recipe.name}-tune")
    with BuildDir(out, force) as build_dir:
        staging = build_dir.staging
        search = run_search(recipe, staging / "work", reporter, jobs)
        shutil.rmtree(staging / "work", ignore_errors=True)
        winner = search.winner or {"ratios": search.path[-1].settings() if search.path else {}}
        note = (f"Written by prune2edge tune from {recipe.path or recipe.name}: the "
                f"{search.spec.objective} winner within the budget.\n"
                "Build it with: prune2edge build tuned.toml")
        write_tuned(tuned_document(recipe, winner["ratios"]), staging / TUNED_TOML, note)
        write_json(search, staging / TUNE_JSON)
        plot(search, staging / PARETO_PNG, recipe.name)
        build_dir.commit()
    if search.interrupted:
        raise KeyboardInterrupt
    report = build(out / TUNED_TOML, out / BUILD_DIR, force=True, reporter=reporter,
                   log_native=True)
    result = TuneResult(search, out, report)
    write_json(search, out / TUNE_JSON, result.final())
    return result
