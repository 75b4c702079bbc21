"""`build()`: a recipe in, a build directory and a BuildReport out."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from ..engine.distribute import worker_task
from ..engine.options import BuildOptions
from ..progress import Reporter
from ..report.schema import BuildReport
from ..requirements import check as check_installed
from .load import load_recipe
from .schema import Recipe


def build(recipe: Recipe | str | Path, out: str | Path | None = None, *, force: bool = False,
          resume: bool = False, overrides: Iterable[str] = (), only: Iterable[str] = (),
          until: str | None = None, reporter: Reporter | None = None,
          log_native: bool = False) -> BuildReport:
    """Run a recipe (a Recipe, a path, or a bundled recipe's name) into `out`.

    `out` defaults to build/<recipe name>. `only` keeps the stages of those kinds, `until`
    stops after the first stage of that kind. `resume` continues an interrupted build from
    its last checkpoint. `log_native` sends TensorFlow's native output to OUT/build.log
    instead of the terminal. Under the multi_worker strategy, workers other than the chief
    build into OUT.workerN, removed when they finish.
    """
    overrides = tuple(overrides)
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        raise TypeError("overrides apply to recipe files; change a Recipe with dataclasses.replace")
    pipeline = recipe.pipeline
    only = tuple(only)
    if until:
        pipeline = pipeline.until(until)
    if only:
        pipeline = pipeline.only(only)
    check_installed(recipe.requirements(pipeline))
    description = recipe.describe() | {"until": until, "only": list(only)}
    out = Path(out or Path("build") / recipe.name)
    worker = worker_task()[0] if recipe.distribute.strategy == "multi_worker" else 0
    if worker:  # every worker trains; only the chief (worker 0) writes OUT
        out = out.with_name(f"{out.name}.worker{worker}")
    report = pipeline.run(recipe.model, recipe.data, BuildOptions(
        out=out, seed=recipe.seed, force=force or bool(worker), resume=resume,
        reporter=reporter or Reporter(), name=recipe.name, base_dir=recipe.base_dir,
        recipe=description, log_native=log_native, distribute=recipe.distribute))
    if worker:
        shutil.rmtree(out, ignore_errors=True)
    return report
