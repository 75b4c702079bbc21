"""`prune2edge recipes`: the bundled example recipes."""

from __future__ import annotations

from rich.table import Table

from .app import app, out_console, user_errors


@app.command()
def recipes() -> None:
    """List the example recipes bundled with prune2edge."""
    from ..recipe.load import bundled_recipes, load_recipe

    table = Table("name", "stages", "file")
    with user_errors():
        for path in bundled_recipes():
            recipe = load_recipe(path)
            table.add_row(path.stem, " → ".join(s.kind for s in recipe.stages), str(path))
    out_console.print(table)
    out_console.print("build one with: prune2edge build NAME (e.g. prune2edge build mnist_cnn)")
