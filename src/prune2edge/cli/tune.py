"""`prune2edge tune`: the fastest (or smallest) model within the recipe's accuracy budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .app import (
    EXIT_CODES,
    JobsOption,
    OverridesOption,
    QuietOption,
    RecipeArg,
    app,
    out_console,
    sigterm_as_interrupt,
    user_errors,
)


@app.command(epilog=EXIT_CODES)
def tune(
    recipe: RecipeArg,
    out: Annotated[Path | None, typer.Option("--out", "-o",
                   help="Directory [default: build/<recipe name>-tune].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier tune in --out.")]
    = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Go on with an interrupted tune in --out from what it found.")]
    = False,
    set_: OverridesOption = None,
    jobs: JobsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Search the structural ratios within the [budgets], write tuned.toml and build it."""
    from .. import native_log
    from ..progress import Reporter
    from ..tune import tune as run_tune
    from .render import RichReporter, summary_table

    reporter = Reporter() if quiet else RichReporter(out_console)
    with user_errors(), sigterm_as_interrupt(), native_log.discarded():
        result = run_tune(recipe, out, force=force, resume=resume, overrides=tuple(set_ or ()),
                          jobs=jobs, reporter=reporter)
    search = result.search
    memory = search.needs_footprints
    table = Table("candidate", "val. accuracy", "p50 ms", "predicted", "gzip B",
                  *(("arena B (TFLM)", "predicted", "flash B") if memory else ()), "in budget",
                  title=f"tune ({search.spec.objective}): finalists, validation split")
    for row in search.finalists:
        predicted = row.predicted_p50_ms
        footprint = row.footprint
        table.add_row(row.describe() + (" ← chosen" if row is search.winner else ""),
                      f"{row.validation_accuracy:.2%}", f"{row.p50_ms:.4f}",
                      "–" if predicted is None else f"{predicted:.4f}", f"{row.gzip_bytes:,}",
                      *(("–" if footprint.arena_bytes is None else f"{footprint.arena_bytes:,}",
                         f"{footprint.predicted_arena_bytes:,}",
                         f"{footprint.flash_bytes:,}") if memory and footprint else ()),
                      "yes" if row.within_budget else "no")
    out_console.print(table)
    dense = search.finalists[0].footprint if search.finalists else None
    if dense and search.winner is not None and search.winner.footprint:
        out_console.print(f"the arena is set by {dense.peak_op} (dense), by "
                          f"{search.winner.footprint.peak_op} (chosen)", markup=False)
    if not quiet:
        out_console.print(summary_table(result.report))
    out_console.print(f"wrote {result.out}: tune.json, pareto.png, tuned.toml, build/ "
                      f"({len(search.trials)} trials, {search.seconds:.0f} s search)",
                      markup=False)
