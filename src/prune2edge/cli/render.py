"""Terminal output for the CLI: rich progress for builds and the closing summary table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..inspect.info import ModelInfo, TensorInfo
from ..progress import Reporter, Task
from ..report.markdown import accuracy_sentence, summary_rows
from ..report.micro import SHOWN as MICRO_SHOWN
from ..report.micro import agreement_sentence, memory_sentence, predicted_sentence
from ..report.micro import short as short_tensor
from ..report.quantization import error_rows
from ..report.schema import BuildReport

# The per-stage figures worth a glance while a build runs.
HEADLINE = ("test_accuracy", "sparsity", "mode", "encoding", "keras_h5")


class _RichTask(Task):
    live = True

    def __init__(self, progress: Progress, task_id: Any):
        self.progress, self.task_id = progress, task_id

    def advance(self, steps: int = 1, status: str = "") -> None:
        self.progress.update(self.task_id, advance=steps, status=status)

    def log(self, line: str) -> None:
        self.progress.update(self.task_id, status=line)


class _LogTask(Task):
    """Progress for a log (CI): no bar, a line per milestone."""

    def __init__(self, console: Console, description: str):
        self.console, self.description = console, description

    def log(self, line: str) -> None:
        self.console.print(f"      {escape(self.description)}: {escape(line)}", soft_wrap=True)


class RichReporter(Reporter):
    """Prints `[i/n] stage` lines, a live bar for long work, and notes."""

    def __init__(self, console: Console):
        self.console = console

    def stage_started(self, index: int, total: int, kind: str, summary: str) -> None:
        detail = f"  [dim]{escape(summary)}[/]" if summary else ""
        self.console.print(f"[bold cyan]\\[{index}/{total}][/] [bold]{kind}[/]{detail}")

    def stage_finished(self, index: int, total: int, kind: str, seconds: float,
                       outputs: Mapping[str, Any]) -> None:
        figures = [f"{k} {_short(outputs[k])}" for k in HEADLINE if k in outputs]
        self.console.print(f"      [green]done[/] in {seconds:.1f} s"
                           + (f"  [dim]{escape(', '.join(figures))}[/]" if figures else ""))

    @contextlib.contextmanager
    def task(self, description: str, total: int, unit: str = "steps") -> Iterator[Task]:
        if not self.console.is_terminal:  # a log (CI): stage lines and milestones, no bars
            yield _LogTask(self.console, description)
            return
        columns = (TextColumn("      {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn(escape(unit)), TimeElapsedColumn(), TextColumn("eta"),
                   TimeRemainingColumn(), TextColumn("{task.fields[status]}"))
        with Progress(*columns, console=self.console, transient=True) as progress:
            yield _RichTask(progress, progress.add_task(description, total=total, status=""))

    def note(self, message: str) -> None:
        self.console.print(f"      [yellow]note:[/] {escape(message)}", soft_wrap=True)

    def warning(self, message: str) -> None:
        self.console.print(f"[bold red]warning:[/] [bold]{escape(message)}[/]", soft_wrap=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping) and "gzip_bytes" in value:
        return f"{value['gzip_bytes']:,} gzip B"
    return str(value)


def summary_table(report: BuildReport) -> Table:
    paired = bool(report.accuracy.get("paired"))
    table = Table(title=escape(f"{report.name}: baseline vs final"), title_justify="left",
                  caption=escape("accuracy: 95% intervals. " + accuracy_sentence(
                      report.accuracy)) if paired else None, caption_justify="left")
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("", "left"), ("baseline", "right"), ("final", "right"), ("ratio", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in summary_rows(report):
        table.add_row(*row)
    return table


def budget_line(budgets: Mapping[str, Any]) -> str:
    """The recipe's budgets in one line, for a build that does not gate on them."""
    shown = {True: "ok", False: "OVER", None: "not measured"}
    verdicts = ", ".join(f"{v['check']} {'another CPU class' if v.get('note') else shown[v['ok']]}"
                         for v in budgets["verdicts"])
    return (f"budgets: {verdicts} (not gated: pass --check, or run prune2edge check, to fail "
            "on them)")


def validation_table(result: Mapping[str, Any]) -> Table:
    """`prune2edge validate` as a two-column table: LiteRT's figures, TFLM's, or both."""
    table = Table(title=escape(result["path"]), title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = _litert_rows(result) if "latency_ms" in result else []
    micro = result.get("micro")
    if micro:
        agreement = agreement_sentence(micro)
        rows += [("tflm", f"{micro['runtime']}: accuracy {micro['accuracy']:.2%} of "
                          f"{micro['test_samples']:,} test samples ({result['data']['source']})"
                          + (f"; {agreement}" if agreement else "")),
                 ("tflm memory", memory_sentence(micro)),
                 ("tflm ops", ", ".join(f"{op} ×{n}" for op, n in micro["ops"].items()))]
    steps = result["data"]["preprocessing"]
    rows.append(("data", f"{result['data']['source']}: "
                         + ("; ".join(steps) if steps else "used as stored")))
    if "agreement" in result:
        agree = result["agreement"]
        rows.append(("keras", f"accuracy {result['keras_accuracy']:.2%}; top-1 agreement "
                              f"{agree['top1']:.2%}, max abs diff {agree['max_abs_diff']:.3g}"))
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


def _litert_rows(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    lat = result["latency_ms"]
    kernels = result["kernels"] + (f" ({result['fallback']})" if result["fallback"] else "")
    rows = [
        ("accuracy", f"{result['accuracy']:.2%} of {result['test_samples']:,} test samples "
                     f"({result['data']['source']})"),
        ("latency (ms, batch 1)", f"p50 {lat['p50']:.4f}  p90 {lat['p90']:.4f}  "
                                  f"p99 {lat['p99']:.4f}  mean {lat['mean']:.4f}  "
                                  f"stdev {lat['stdev']:.4f}"),
        ("runs", f"{lat['runs']} timed over {lat['interpreters']} fresh interpreters (one "
                 f"alone: p50 {lat['p50_range'][0]:.4f} to {lat['p50_range'][1]:.4f}), "
                 f"{lat['warmup']} warm-up each, {lat['threads']} thread(s)"),
        ("kernels", kernels),
    ]
    if result["rss_growth_kb"] is not None:
        rows.append(("memory", f"resident memory grows {result['rss_growth_kb']:,} KiB loading "
                               "and running it once (LiteRT's own setup included)"))
    return rows


def _distinct(tensor: TensorInfo) -> str:
    """'16', or '40, 16 a channel' for a tensor of per-channel scales."""
    if tensor.channel_distinct == tensor.distinct:
        return f"{tensor.distinct:,}"
    return f"{tensor.distinct:,}, {tensor.channel_distinct:,} a channel"


def inspect_tables(info: ModelInfo) -> list[Any]:
    """`prune2edge inspect`: one row per stored tensor, totals, and sparse-kernel notes."""
    table = Table(title=escape(f"{info.path} ({info.format})"), title_justify="left")
    numbers = ("zeros", "distinct", "bytes", "entropy B")
    for column in ("tensor", "op", "shape", "dtype", "zeros", "distinct", "encoding", "bytes",
                   "entropy B"):
        table.add_column(column, justify="right" if column in numbers else "left",
                         overflow="fold")
    for t in info.tensors:
        table.add_row(escape(_short_name(t.name, t.role)), _short_op(t.op),
                      "x".join(map(str, t.shape)) or "scalar", t.dtype, f"{t.zeros:.1%}",
                      _distinct(t), t.encoding, f"{t.bytes:,}", f"{t.entropy_bits / 8:,.0f}")
    totals = info.totals
    lines = [f"file {info.file_bytes:,} B, gzip {info.file_gzip_bytes:,} B; tensors store "
             f"{totals['stored_bytes']:,} B whose zero-order entropy is "
             f"{totals['entropy_bytes']:,} B; {totals['weight_zeros']:.1%} of "
             f"{totals['weight_values']:,} weights are zero; {totals['sparse_tensors']} "
             "tensor(s) stored sparse"]
    notes = [f"  {_short_name(t.name, t.role)}: {t.kernel_note}"
             for t in info.tensors if t.kernel_note]
    if notes:
        lines += ["sparse kernels:", *notes]
    return [table, Text("\n".join(lines)), *([_int8_table(info.int8)] if info.int8 else []),
            *(_micro_tables(info.micro) if info.micro else [])]


def _micro_tables(micro: dict[str, Any]) -> list[Any]:
    """What a microcontroller needs: TFLM's arena and flash, and the ops with the most live
    activation bytes (which set the arena's activation part)."""
    table = Table(title="activation bytes alive while each op runs, largest first",
                  title_justify="left")
    for column in ("op #", "op", "output", "live bytes"):
        table.add_column(column, justify="right" if column in ("op #", "live bytes")
                         else "left", overflow="fold")
    ranked = sorted(micro["activations"], key=lambda op: -op["live_bytes"])
    for op in ranked[:MICRO_SHOWN]:
        table.add_row(str(op["index"]), op["op"], escape(short_tensor(op["output"])),
                      f"{op['live_bytes']:,}")
    line = (f"arena predicted from the file: {predicted_sentence(micro['predicted_arena'])}\n"
            + ("TensorFlow Lite Micro: " + memory_sentence(micro) if "arena" in micro else
               f"TensorFlow Lite Micro: not run ({micro['unavailable']})"))
    return [table, Text(line + ("\n" + board_sentence(micro["board"])
                                if "board" in micro else ""))]


def board_sentence(fit: dict[str, Any]) -> str:
    """How the model fits a board: arena and file against its RAM and flash, less the
    reserve; negative margins say it does not."""
    arena = "arena" if fit["arena_measured"] else "arena (predicted; TFLM did not run)"
    reserve = f", {fit['reserve_bytes']:,} B kept for the application" if fit[
        "reserve_bytes"] else ""
    verdict = "fits" if fit["ram_margin"] >= 0 and fit["flash_margin"] >= 0 else "DOES NOT FIT"
    return (f"on {fit['board']} ({fit['what']}, {fit['core']}: {fit['ram_bytes']:,} B RAM, "
            f"{fit['flash_bytes']:,} B flash{reserve}): {verdict} — {arena} "
            f"{fit['arena_bytes']:,} B, RAM margin {fit['ram_margin']:,} B; file "
            f"{fit['model_flash_bytes']:,} B, flash margin {fit['flash_margin']:,} B")


def _int8_table(int8: dict[str, Any]) -> Table:
    """The build's per-layer int8 error (see report.quantization), worst first."""
    header, rows = error_rows(int8, limit=None)
    kept = f"; kept in float: {', '.join(int8['float_layers'])}" if int8["float_layers"] else ""
    table = Table(title=f"int8 error per layer, worst first ({int8['probe_samples']} samples; "
                  f"RMS error / RMS value per channel{kept})", title_justify="left")
    for column in header:
        table.add_column(column, justify="left" if column == header[0] else "right",
                         overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    return table


OP_ABBREVIATIONS = {"FULLY_CONNECTED": "FC", "DEPTHWISE_CONV_2D": "DWCONV", "CONV_2D": "CONV",
                    " (via DENSIFY)": "+densify"}


def _short_name(name: str, role: str) -> str:
    """'model/dense/MatMul;model/dense/Relu' -> 'dense weights' (fused names repeat a lot)."""
    parts = name.split(";")[0].split("/")
    layer = parts[-2] if len(parts) > 1 else parts[0]
    return f"{layer} {role}"


def _short_op(op: str) -> str:
    for long, short in OP_ABBREVIATIONS.items():
        op = op.replace(long, short)
    return op
