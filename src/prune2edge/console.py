"""Terminal output for the CLI: rich progress for builds and the closing summary table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .markdown import summary_rows
from .progress import Reporter, Task
from .report import BuildReport

# The per-stage figures worth a glance while a build runs.
HEADLINE = ("test_accuracy", "sparsity", "mode", "encoding", "keras_h5")


class _RichTask(Task):
    def __init__(self, progress: Progress, task_id: Any):
        self.progress, self.task_id = progress, task_id

    def advance(self, steps: int = 1, status: str = "") -> None:
        self.progress.update(self.task_id, advance=steps, status=status)


class RichReporter(Reporter):
    """Prints `[i/n] stage` lines, a live bar for long work, and notes."""

    def __init__(self, console: Console):
        self.console = console

    def stage_started(self, index: int, total: int, kind: str, summary: str) -> None:
        detail = f"  [dim]{summary}[/]" if summary else ""
        self.console.print(f"[bold cyan]\\[{index}/{total}][/] [bold]{kind}[/]{detail}")

    def stage_finished(self, index: int, total: int, kind: str, seconds: float,
                       outputs: Mapping[str, Any]) -> None:
        figures = [f"{k} {_short(outputs[k])}" for k in HEADLINE if k in outputs]
        self.console.print(f"      [green]done[/] in {seconds:.1f} s"
                           + (f"  [dim]{', '.join(figures)}[/]" if figures else ""))

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Task]:
        columns = (TextColumn("      {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[status]}"))
        with Progress(*columns, console=self.console, transient=True) as progress:
            yield _RichTask(progress, progress.add_task(description, total=total, status=""))

    def note(self, message: str) -> None:
        self.console.print(f"      [yellow]note:[/] {message}")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping) and "gzip_bytes" in value:
        return f"{value['gzip_bytes']:,} gzip B"
    return str(value)


def summary_table(report: BuildReport) -> Table:
    table = Table(title=f"{report.name}: baseline vs final", title_justify="left")
    for column, justify in (("", "left"), ("baseline", "right"), ("final", "right"),
                            ("ratio", "right")):
        table.add_column(column, justify=justify)
    for row in summary_rows(report):
        table.add_row(*row)
    return table
