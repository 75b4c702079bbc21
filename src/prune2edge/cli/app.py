"""The Typer app and what every command shares: consoles, one-line errors, SIGTERM handling."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from .. import __version__
from ..errors import Prune2EdgeError
from ..storage import is_no_space, no_space

# Click's UsageError (Typer vendors Click in recent releases; BadParameter derives from it).
_UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__
                                    if c.__name__ == "UsageError")


@contextlib.contextmanager
def _usage_exits_one() -> Iterator[None]:
    try:
        yield
    except _UsageError as exc:
        exc.exit_code = 1  # type: ignore[attr-defined]
        raise


class _Commands(TyperGroup):
    """The command group: usage errors exit 1, as every other mistake a user can make does
    (Click's own code for them is 2)."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_exits_one():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _usage_exits_one():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Commands, help="Prune, quantize and convert Keras models to small, fast .tflite files.",
    no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]})
out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_CODES = ("Exit codes: 0 ok, 1 usage/recipe/input error, 3 budget regression, "
              "4 build failed during work, 130 interrupted.")

# The parameters every recipe-running command takes.
RecipeArg = Annotated[str, typer.Argument(help="Recipe file, or a bundled recipe's name.")]
OverridesOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE",
    help="Override a recipe value, e.g. stages.finetune.epochs=2 (repeatable).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
JobsOption = Annotated[int | None, typer.Option(
    "--jobs", "-j", min=1, help="Worker processes for independent trials; the results are "
    "those of --jobs 1.")]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into one red line and an exit code; never a traceback."""
    try:
        yield
    except Prune2EdgeError as exc:
        report = getattr(exc, "report", None)
        if report is not None:  # a build that failed a check still measured everything
            from .render import summary_table

            out_console.print(summary_table(report))
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[bold red]error:[/] interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # a full disk, wherever it struck
        if not is_no_space(exc):
            raise
        where = getattr(exc, "filename", None) or "."
        error = no_space(Path(where).parent, Path(where).name)
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(error.exit_code) from None


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a build the way Ctrl-C does: cleanly, keeping its checkpoint."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _version(value: bool) -> None:
    if value:
        out_console.print(f"prune2edge {__version__}")
        raise typer.Exit()


@app.callback(epilog=EXIT_CODES)
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Prune, quantize and convert Keras models to small, fast .tflite files."""
