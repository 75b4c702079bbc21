"""`prune2edge build`: run a recipe into a build directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .app import (
    EXIT_CODES,
    OverridesOption,
    QuietOption,
    RecipeArg,
    app,
    err_console,
    out_console,
    sigterm_as_interrupt,
    user_errors,
)


@app.command(epilog=EXIT_CODES)
def build(
    recipe: RecipeArg,
    out: Annotated[Path | None, typer.Option("--out", "-o",
                   help="Build directory [default: build/<recipe name>].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a build already in --out.")]
    = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted build in --out from its last checkpoint.")]
    = False,
    set_: OverridesOption = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", metavar="KIND", help="Run only stages of this kind (repeatable).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="KIND", help="Stop after the first stage of this kind.")] = None,
    quiet: QuietOption = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Gate the build on its budgets (and --baseline) when it ends.")] = False,
    baseline: Annotated[Path | None, typer.Option(
        help="Baseline file to gate against (implies --check).")] = None,
) -> None:
    """Run a recipe: prune, fine-tune, strip, quantize, convert and validate into --out."""
    from ..progress import Reporter
    from ..recipe.build import build as run_build
    from .check import gate
    from .render import RichReporter, budget_line, summary_table

    reporter = Reporter() if quiet else RichReporter(out_console)
    with user_errors(), sigterm_as_interrupt():
        report = run_build(recipe, out, force=force, resume=resume, overrides=set_ or (),
                           only=only or (), until=until, reporter=reporter, log_native=True)
    if not quiet:
        out_console.print(summary_table(report))
    files = ", ".join(report.artifacts) or "no artifacts"
    out_console.print(f"wrote {report.out_dir}: {files}, report.json, report.md", markup=False)
    for warning in report.warnings:
        err_console.print(f"[bold red]warning:[/] [bold]{escape(warning)}[/]", soft_wrap=True)
    if check or baseline:
        gate(report, baseline, (), None)
    elif report.budgets:
        out_console.print(budget_line(report.budgets), markup=False)
