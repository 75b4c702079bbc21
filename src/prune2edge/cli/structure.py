"""`prune2edge structure`: the structural-pruning plan of a model, before any training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .. import native_log
from .app import EXIT_CODES, app, out_console, user_errors


@app.command(epilog=EXIT_CODES)
def structure(
    target: Annotated[str, typer.Argument(
        help="A recipe (file or bundled name), or a model: .keras/.h5/SavedModel or "
             "module:function.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    members: Annotated[int, typer.Option(min=1, help="Members shown per group.")] = 3,
) -> None:
    """Show which layers structural pruning can shrink, in which groups, and why not."""
    from ..keras.load import load
    from ..keras.surgery import plan
    from ..keras.surgery.describe import describe_plan
    from ..recipe.load import load_recipe
    from ..stages import Structural

    with user_errors(), native_log.discarded():
        source, base_dir = target, Path.cwd()
        exclude: tuple[str, ...] = ()
        bundled_name = not (Path(target).suffix or ":" in target or Path(target).exists())
        if target.endswith(".toml") or bundled_name:
            recipe = load_recipe(target)
            source, base_dir = recipe.model.source, recipe.base_dir
            stage = next((s for s in recipe.stages if isinstance(s, Structural)), None)
            exclude = stage.exclude if stage else ()
        described = describe_plan(plan(load(source, base_dir).model, exclude))
    if as_json:
        out_console.print_json(data=described)
        return
    table = Table("group", "width", "MACs", "status", title=escape(
        f"{described['model']}: {described['prunable_producers']}/{described['producers']} "
        f"producers prunable, {described['prunable_macs_share']:.0%} of "
        f"{described['macs']:,} MACs in prunable groups"), title_justify="left")
    for row in described["rows"]:
        names = row["members"][:members]
        more = len(row["members"]) - len(names)
        label = "+".join(names) + (f" (+{more} more)" if more else "")
        width = str(row["width"]) + (f" (steps of {row['step']})" if row["step"] > 1 else "")
        status = "[green]prunable[/]" if row["prunable"] else \
            "[yellow]whole[/]: " + escape("; ".join(row["reasons"]))
        table.add_row(escape(label), width, f"{row['macs_share']:.1%}", status)
    out_console.print(table)
