"""Recipes: TOML -> a checked Recipe (model, data, stages, budgets) in milliseconds.

Every mistake is a RecipeError that names the file, the place in it, and the fix; no
TensorFlow is imported here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .. import data
from ..data import DataSpec
from ..engine.distribute import DistributeSpec
from ..engine.pipeline import Pipeline
from ..engine.registry import stages as stage_classes
from ..engine.stage import Stage
from ..errors import Prune2EdgeError, RecipeError, nearest
from ..keras import load as keras_load
from ..keras.load import ModelSpec
from ..params import from_mapping, unknown_key_error
from ..report.budgets import Budgets
from .overrides import TOP_LEVEL, apply_overrides
from .schema import Recipe
from .tuning import TuneSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VERSIONS = (1,)
MAX_SEED = 2**32 - 1
MAX_NAME_BYTES = 240  # a folder name (build/<name>, and <name>.workerN) must stay under 255


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Read, override (`--set key=value`) and check a recipe file, or a bundled recipe's name."""
    path = resolve(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"cannot read the recipe ({exc.strerror})", str(path),
                          "check the path") from exc
    except UnicodeDecodeError as exc:
        raise RecipeError(f"the recipe is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start})", str(path),
                          "save it as UTF-8, the encoding TOML requires") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"not valid TOML ({exc})", str(path),
                          "fix the syntax; see the recipe reference in the README") from exc
    overrides = tuple(overrides)
    try:
        document = apply_overrides(document, overrides)
        return parse_recipe(document, path=path, overrides=overrides)
    except Prune2EdgeError as exc:
        raise exc.located(str(path)) from exc


def resolve(path: str | Path) -> Path:
    """A recipe path as given, or the bundled recipe of that name (e.g. `mnist_cnn`)."""
    candidate = Path(path).expanduser()
    if candidate.exists():
        return candidate
    bundled = {p.stem: p for p in bundled_recipes()}
    stem = candidate.name.removesuffix(".toml")
    if candidate.parent == Path(".") and stem in bundled:
        return bundled[stem]
    names = ", ".join(sorted(bundled))
    raise RecipeError("recipe file not found", str(path),
                      f"give a path to a .toml recipe, or a bundled recipe: {names}")


def bundled_recipes() -> list[Path]:
    """The example recipes shipped with the package (the repository's models/ directory)."""
    root = resources.files(__package__) / "examples"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


def parse_recipe(document: Mapping[str, Any], *, path: Path | None = None,
                 overrides: tuple[str, ...] = ()) -> Recipe:
    """Check a recipe document (already parsed TOML) and build the Recipe."""
    for key in document:
        if key not in TOP_LEVEL:
            raise unknown_key_error(key, TOP_LEVEL, "top level")
    version = document.get("version")
    if version not in VERSIONS:
        found = "no version" if version is None else f"version = {version!r}"
        raise RecipeError(f"unsupported recipe {found}", "version",
                          f"this prune2edge reads version = {VERSIONS[-1]}")
    name = document.get("name", path.stem if path else "recipe")
    seed = document.get("seed", 0)
    check_name(name)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise RecipeError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}", "seed",
                          "write seed = 0 (NumPy and TensorFlow take 32-bit seeds)")
    for table in ("model", "data"):
        if table not in document:
            raise RecipeError(f"missing [{table}] table", None,
                              f'add [{table}] with source = "..."')
    model = from_mapping(ModelSpec, document["model"], "model")
    data_spec = from_mapping(DataSpec, document["data"], "data")
    base_dir = path.parent if path else Path.cwd()
    keras_load.check_source(model.source, base_dir)
    data.check_source(data_spec.source, base_dir)
    stages = parse_stages(document.get("stages", []))
    Pipeline(stages)  # checks the order before anything runs
    budgets = Budgets.parse(document.get("budgets", {}))
    tune = from_mapping(TuneSpec, document["tune"], "tune") if "tune" in document else None
    distribute = from_mapping(DistributeSpec, document.get("distribute", {}), "distribute")
    return Recipe(name=name, model=model, data=data_spec, stages=stages, seed=seed,
                  version=version, budgets=budgets, tune=tune, distribute=distribute,
                  path=path, overrides=overrides)


def check_name(name: Any) -> None:
    """A recipe name is the build folder's default name: one plain file name."""
    fix = 'write a plain name such as name = "mnist-cnn-80"'
    if not isinstance(name, str) or not name.strip():
        raise RecipeError("name must be a non-empty string", "name", fix)
    if name in (".", "..") or any(c in name for c in "/\\:") or not name.isprintable():
        raise RecipeError(f"name {name!r} cannot name a folder inside build/", "name",
                          fix + " (no /, \\, :, '..' or control characters)")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise RecipeError(f"name is {len(name.encode())} bytes long, more than a folder name "
                          f"may be ({MAX_NAME_BYTES})", "name", "shorten it")


def parse_stages(tables: Any) -> tuple[Stage, ...]:
    registry = stage_classes()
    if not isinstance(tables, list):
        raise RecipeError("stages must be a list of tables", "stages",
                          "write each stage as a [[stages]] table")
    stages = []
    for index, table in enumerate(tables, 1):
        where = f"stage {index}"
        if not isinstance(table, Mapping) or "kind" not in table:
            raise RecipeError("the stage has no kind", where,
                              f"set kind to one of: {', '.join(registry)}")
        kind = table["kind"]
        if kind not in registry:
            guess = nearest(str(kind), registry)
            hint = f"did you mean '{guess}'? " if guess else ""
            raise RecipeError(f"unknown stage kind {kind!r}", where,
                              f"{hint}kinds: {', '.join(registry)}")
        params = {k: v for k, v in table.items() if k != "kind"}
        stages.append(registry[kind].from_params(params, f"{where} ({kind})"))
    return tuple(stages)
