"""`prune2edge validate` and `inspect`: a model file on this CPU, no TensorFlow needed."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from .. import native_log
from .app import EXIT_CODES, app, out_console, user_errors


class Runtime(str, enum.Enum):
    litert = "litert"
    tflm = "tflm"
    both = "both"


@app.command(epilog=EXIT_CODES)
def validate(
    model: Annotated[Path, typer.Argument(help="The .tflite file to run.")],
    data: Annotated[str, typer.Option(help="Data source: builtin:mnist or an .npz.")]
    = "builtin:mnist",
    keras: Annotated[str | None, typer.Option(
        help="A Keras model (file or module:function) to compare outputs with.")] = None,
    runtime: Annotated[Runtime, typer.Option(
        help="litert: LiteRT on this CPU; tflm: TensorFlow Lite Micro (accuracy, RAM arena, "
        "flash); both: both, and how far their outputs are apart.")] = Runtime.litert,
    threads: Annotated[int, typer.Option(min=1, help="Interpreter threads.")] = 1,
    runs: Annotated[int, typer.Option(min=1, help="Timed batch-1 runs.")] = 500,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed runs first.")] = 20,
    interpreters: Annotated[int, typer.Option(
        min=1, help="Fresh interpreters to spread the runs over.")] = 5,
    batch_size: Annotated[int, typer.Option(min=1, help="Batch for the accuracy pass.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a .tflite on this CPU: accuracy, latency percentiles, kernels, memory; on
    TensorFlow Lite Micro too (--runtime): accuracy, tensor arena, flash."""
    from ..keras.load import predictor
    from ..progress import Reporter
    from ..tflite.validator import validate_file
    from .render import RichReporter, validation_table

    reporter = Reporter() if as_json else RichReporter(out_console)
    with user_errors(), native_log.discarded():
        reference = None if keras is None else predictor(keras, Path.cwd(), batch_size)
        result = validate_file(model, data, reference, runtime=runtime.value, threads=threads,
                               runs=runs, warmup=warmup, interpreters=interpreters,
                               batch_size=batch_size, reporter=reporter)
    if as_json:
        out_console.print_json(data=result)
    else:
        out_console.print(validation_table(result))


@app.command(epilog=EXIT_CODES)
def inspect(
    model: Annotated[Path, typer.Argument(help=".tflite, .keras, .h5 or SavedModel directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    board: Annotated[str | None, typer.Option(
        help="A board by name (e.g. nrf52840): the RAM and flash margins the .tflite leaves "
             "on it.")] = None,
    reserve: Annotated[int, typer.Option(
        help="With --board: bytes of RAM and flash the application keeps.")] = 0,
) -> None:
    """Show each weight tensor: zeros, encoding, bytes, entropy, and which sparse kernels fit."""
    from ..boards import board_named, check_reserve
    from ..errors import RecipeError
    from ..inspect import inspect as inspect_model
    from .render import inspect_tables

    with user_errors(), native_log.discarded():
        chosen = None if board is None else board_named(board, "--board")
        if chosen is not None:
            check_reserve(chosen, reserve, "--reserve")
        elif reserve:
            raise RecipeError("--reserve is what the application keeps of a board", "--reserve",
                              "name the board too, e.g. --board nrf52840")
        info = inspect_model(model, chosen, reserve)
    if as_json:
        out_console.print_json(data=info.to_dict())
    else:
        for renderable in inspect_tables(info):
            out_console.print(renderable)
