"""`prune2edge sensitivity`: per-layer accuracy as each layer alone is pruned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.markup import escape
from rich.table import Table

from .. import native_log
from .app import (
    EXIT_CODES,
    JobsOption,
    OverridesOption,
    RecipeArg,
    app,
    out_console,
    sigterm_as_interrupt,
    user_errors,
)


@app.command(epilog=EXIT_CODES)
def sensitivity(
    recipe: RecipeArg,
    mode: Annotated[str, typer.Option(
        help="magnitude: zero weights; structural: remove units/filters.")] = "magnitude",
    criterion: Annotated[str | None, typer.Option(
        help="magnitude|obd (magnitude mode), l1|l2|obd (structural) [default: magnitude/l1]")]
    = None,
    ratios: Annotated[str, typer.Option(help="Comma-separated shares to try.")]
    = "0.25,0.5,0.75,0.9",
    samples: Annotated[int | None, typer.Option(min=1, help="Test samples to score on.")]
    = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Directory [default: build/<recipe name>-sensitivity].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier scan.")] = False,
    set_: OverridesOption = None,
    jobs: JobsOption = None,
) -> None:
    """Accuracy vs sparsity (or width) for each layer alone, as a table and a plot."""
    from ..errors import RecipeError
    from ..recipe.load import load_recipe
    from ..sensitivity import scan, write
    from ..sensitivity.scan import Mode
    from .render import RichReporter

    allowed = {"magnitude": ("magnitude", "obd"), "structural": ("l1", "l2", "obd")}
    with user_errors(), sigterm_as_interrupt(), native_log.discarded():
        if mode not in allowed:
            raise RecipeError(f"unknown mode {mode!r}", "--mode", "use magnitude or structural")
        if criterion is not None and criterion not in allowed[mode]:
            raise RecipeError(f"criterion {criterion!r} does not apply to {mode} pruning",
                              "--criterion", f"use one of {', '.join(allowed[mode])}")
        try:
            shares = tuple(float(r) for r in ratios.split(","))
        except ValueError as exc:
            raise RecipeError(f"--ratios {ratios!r} is not a list of numbers", "--ratios",
                              "e.g. --ratios 0.25,0.5,0.75") from exc
        if not all(0.0 < r < 1.0 for r in shares):
            raise RecipeError("every ratio must be in (0, 1)", "--ratios", "e.g. 0.5,0.9")
        loaded = load_recipe(recipe, set_ or ())
        result = scan(loaded, mode=cast(Mode, mode), criterion=criterion, ratios=shares,
                      samples=samples, jobs=jobs or 1, reporter=RichReporter(out_console))
        target = out or Path("build") / f"{loaded.name}-sensitivity"
        write(result, target, force)
    table = Table("layer", "type", *(f"{r:.0%}" for r in result.ratios),
                  title=f"accuracy with one layer pruned (unpruned {result.baseline_accuracy:.2%})",
                  title_justify="left")
    for row in result.layers:
        table.add_row(escape(row["layer"]), row["type"],
                      *(f"{a:.2%}" for a in row["accuracy"]))
    out_console.print(table)
    out_console.print(f"wrote {target}: sensitivity.json, sensitivity.md, sensitivity.png",
                      markup=False)
