"""`prune2edge check`: the CI gate, and recording baselines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .app import EXIT_CODES, app, out_console, user_errors


@app.command(name="check", epilog=EXIT_CODES)
def check_command(
    target: Annotated[Path, typer.Argument(help="A build directory or its report.json.")],
    baseline: Annotated[Path | None, typer.Option(
        help="Committed baseline to compare with (sizes, accuracy, latency ratio).")] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="Rewrite --baseline from this build instead of checking.")]
    = False,
    markdown: Annotated[Path | None, typer.Option(
        help="Also write the verdict table as Markdown here.")] = None,
    budget: Annotated[list[str] | None, typer.Option(
        metavar="KEY=VALUE", help="Add or tighten a budget, e.g. max_gzip_bytes=90000.")] = None,
) -> None:
    """Gate a build for CI: exit 0 if every budget holds, 3 on a regression.

    Budgets come from the recipe's [budgets] table (and --budget); a --baseline adds
    tolerances against a committed earlier build. The table also goes to
    $GITHUB_STEP_SUMMARY when that is set.
    """
    from ..report.schema import BuildReport

    with user_errors():
        report = BuildReport.load(target)
        if update_baseline:
            _update_baseline(report, baseline)
            return
    gate(report, baseline, budget or (), markdown)


def gate(report, baseline: Path | None, budgets, markdown: Path | None) -> None:
    """Print the verdicts (and write them as Markdown); exit 3 on a regression."""
    from ..report.gate import run_check

    with user_errors():
        result = run_check(report, baseline, budgets)
    table = Table("check", "limit", "measured", "verdict",
                  title=escape(f"prune2edge check: {result.name}"), title_justify="left")
    shown = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]not gated[/]"}
    for v in result.verdicts:
        table.add_row(v.check, v.limit, escape(v.measured), shown[v.ok])
    out_console.print(table)
    for v in result.verdicts:
        if v.note:
            out_console.print(f"{escape(v.check)} not gated: {escape(v.note)}", soft_wrap=True)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for path, mode in ((summary, "a"), (markdown, "w")):
        if path:
            with open(path, mode, encoding="utf-8") as out:
                out.write(result.markdown() + "\n")
    with user_errors():
        result.raise_for_failures()


def _update_baseline(report, baseline: Path | None) -> None:
    from ..errors import ReportError
    from ..report.gate import load_baseline, make_baseline, write_baseline

    if baseline is None:
        raise ReportError("--update-baseline needs --baseline FILE", None,
                          "name the file to write, e.g. models/mnist_cnn.baseline.json")
    if report.status != "ok":
        raise ReportError(f"the build's status is {report.status}", report.name,
                          "record a baseline only from a successful build")
    previous = load_baseline(baseline) if baseline.exists() else None
    # the tolerances are the file's own: a recorded baseline keeps what was set in it
    new = make_baseline(report, previous["tolerances"] if previous else None)
    old = previous["figures"] if previous else {}
    write_baseline(baseline, new)
    for key, value in new["figures"].items():
        before = old.get(key)
        change = "new" if before is None else f"was {before:,.6g}"
        out_console.print(f"  {key}: {value:,.6g} ({change})", markup=False)
    out_console.print(f"baseline {baseline} updated from {report.out_dir}", markup=False)
