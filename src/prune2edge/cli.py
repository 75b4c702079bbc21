"""The `prune2edge` command: parses, calls the library, prints. No ML logic here."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__, native_log
from .errors import Prune2EdgeError

app = typer.Typer(
    help="Prune, quantize and convert Keras models to small, fast .tflite files.",
    no_args_is_help=True, add_completion=False, rich_markup_mode=None)
out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_CODES = ("Exit codes: 0 ok, 1 usage/recipe/input error, 3 budget regression, "
              "4 build failed during work, 130 interrupted.")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into one red line and an exit code; never a traceback."""
    try:
        yield
    except Prune2EdgeError as exc:
        report = getattr(exc, "report", None)
        if report is not None:  # a build that failed a check still measured everything
            from .console import summary_table

            out_console.print(summary_table(report))
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[bold red]error:[/] interrupted")
        raise typer.Exit(130) from None


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


@app.command(epilog=EXIT_CODES)
def build(
    recipe: Annotated[str, typer.Argument(help="Recipe file, or a bundled recipe's name.")],
    out: Annotated[Path | None, typer.Option("--out", "-o",
                   help="Build directory [default: build/<recipe name>].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a build already in --out.")]
    = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted build in --out from its last checkpoint.")]
    = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Override a recipe value, e.g. stages.finetune.epochs=2 (repeatable).")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", metavar="KIND", help="Run only stages of this kind (repeatable).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="KIND", help="Stop after the first stage of this kind.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Gate the build on its budgets (and --baseline) when it ends.")] = False,
    baseline: Annotated[Path | None, typer.Option(
        help="Baseline file to gate against (implies --check).")] = None,
) -> None:
    """Run a recipe: prune, fine-tune, strip, quantize, convert and validate into --out."""
    from .build import build as run_build
    from .console import RichReporter, summary_table
    from .progress import Reporter

    reporter = Reporter() if quiet else RichReporter(out_console)
    with user_errors(), sigterm_as_interrupt():
        report = run_build(recipe, out, force=force, resume=resume, overrides=set_ or (),
                           only=only or (), until=until, reporter=reporter, log_native=True)
    if not quiet:
        out_console.print(summary_table(report))
    files = ", ".join(report.artifacts) or "no artifacts"
    out_console.print(f"wrote {report.out_dir}: {files}, report.json, report.md", markup=False)
    if check or baseline:
        _gate(report, baseline, (), None)


@app.command(epilog=EXIT_CODES)
def sensitivity(
    recipe: Annotated[str, typer.Argument(help="Recipe file, or a bundled recipe's name.")],
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
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="Override a recipe value (repeatable).")] = None,
) -> None:
    """Accuracy vs sparsity (or width) for each layer alone, as a table and a plot."""
    from .console import RichReporter
    from .errors import RecipeError
    from .recipe import load_recipe
    from .sensitivity import scan, write

    allowed = {"magnitude": ("magnitude", "obd"), "structural": ("l1", "l2", "obd")}
    with user_errors(), sigterm_as_interrupt(), native_log.discarded():
        if mode not in allowed:
            raise RecipeError(f"unknown mode {mode!r}", "--mode", "use magnitude or structural")
        if criterion is not None and criterion not in allowed[mode]:
            raise RecipeError(f"criterion {criterion!r} does not apply to {mode} pruning",
                              "--criterion", f"use one of {', '.join(allowed[mode])}")
        try:
            shares = tuple(float(r) for r in ratios.split(","))
        except ValueError:
            raise RecipeError(f"--ratios {ratios!r} is not a list of numbers", "--ratios",
                              "e.g. --ratios 0.25,0.5,0.75") from None
        if not all(0.0 < r < 1.0 for r in shares):
            raise RecipeError("every ratio must be in (0, 1)", "--ratios", "e.g. 0.5,0.9")
        loaded = load_recipe(recipe, set_ or ())
        result = scan(loaded, mode=mode, criterion=criterion, ratios=shares, samples=samples,
                      reporter=RichReporter(out_console))
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
    from .report import BuildReport

    with user_errors():
        report = BuildReport.load(target)
        if update_baseline:
            _update_baseline(report, baseline)
            return
    _gate(report, baseline, budget or (), markdown)


def _gate(report, baseline: Path | None, budgets, markdown: Path | None) -> None:
    """Print the verdicts (and write them as Markdown); exit 3 on a regression."""
    from .check import run_check

    with user_errors():
        result = run_check(report, baseline, budgets)
    table = Table("check", "limit", "measured", "verdict",
                  title=escape(f"prune2edge check: {result.name}"), title_justify="left")
    for v in result.verdicts:
        table.add_row(v.check, v.limit, escape(v.measured),
                      "[green]ok[/]" if v.ok else "[red]FAIL[/]")
    out_console.print(table)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for path, mode in ((summary, "a"), (markdown, "w")):
        if path:
            with open(path, mode, encoding="utf-8") as out:
                out.write(result.markdown() + "\n")
    if not result.ok:
        failed = ", ".join(v.check for v in result.failures)
        err_console.print(f"[bold red]error:[/] {len(result.failures)} check(s) failed "
                          f"({escape(report.name)}): {escape(failed)}", soft_wrap=True)
        raise typer.Exit(3)


def _update_baseline(report, baseline: Path | None) -> None:
    from .check import load_baseline, make_baseline, write_baseline
    from .errors import ReportError

    if baseline is None:
        raise ReportError("--update-baseline needs --baseline FILE", None,
                          "name the file to write, e.g. models/mnist_cnn.baseline.json")
    if report.status != "ok":
        raise ReportError(f"the build's status is {report.status}", report.name,
                          "record a baseline only from a successful build")
    new = make_baseline(report)
    old = load_baseline(baseline)["figures"] if baseline.exists() else {}
    write_baseline(baseline, new)
    for key, value in new["figures"].items():
        before = old.get(key)
        change = "new" if before is None else f"was {before:,.6g}"
        out_console.print(f"  {key}: {value:,.6g} ({change})", markup=False)
    out_console.print(f"baseline {baseline} updated from {report.out_dir}", markup=False)


@app.command(epilog=EXIT_CODES)
def validate(
    model: Annotated[Path, typer.Argument(help="The .tflite file to run.")],
    data: Annotated[str, typer.Option(help="Data source: builtin:mnist or an .npz.")]
    = "builtin:mnist",
    keras: Annotated[str | None, typer.Option(
        help="A Keras model (file or module:function) to compare outputs with.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="Interpreter threads.")] = 1,
    runs: Annotated[int, typer.Option(min=1, help="Timed batch-1 runs.")] = 500,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed runs first.")] = 20,
    interpreters: Annotated[int, typer.Option(
        min=1, help="Fresh interpreters to spread the runs over.")] = 5,
    batch_size: Annotated[int, typer.Option(min=1, help="Batch for the accuracy pass.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a .tflite on this CPU: accuracy, latency percentiles, kernels, memory."""
    from .console import RichReporter, validation_table
    from .progress import Reporter
    from .validator import validate_file

    reporter = Reporter() if as_json else RichReporter(out_console)
    with user_errors(), native_log.discarded():
        result = validate_file(model, data, keras, threads=threads, runs=runs, warmup=warmup,
                               interpreters=interpreters, batch_size=batch_size,
                               reporter=reporter)
    if as_json:
        out_console.print_json(data=result)
    else:
        out_console.print(validation_table(result))


@app.command(epilog=EXIT_CODES)
def inspect(
    model: Annotated[Path, typer.Argument(help=".tflite, .keras, .h5 or SavedModel directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each weight tensor: zeros, encoding, bytes, entropy, and which sparse kernels fit."""
    from .console import inspect_tables
    from .tflite_info import inspect as inspect_model

    with user_errors(), native_log.discarded():
        info = inspect_model(model)
    if as_json:
        out_console.print_json(data=info.to_dict())
    else:
        for renderable in inspect_tables(info):
            out_console.print(renderable)


@app.command()
def recipes() -> None:
    """List the example recipes bundled with prune2edge."""
    from .recipe import bundled_recipes, load_recipe

    table = Table("name", "stages", "file")
    with user_errors():
        for path in bundled_recipes():
            recipe = load_recipe(path)
            table.add_row(path.stem, " → ".join(s.kind for s in recipe.stages), str(path))
    out_console.print(table)
    out_console.print("build one with: prune2edge build NAME (e.g. prune2edge build mnist_cnn)")


def main() -> None:
    app(prog_name="prune2edge")
