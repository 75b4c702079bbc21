"""Recipes: TOML -> a checked Recipe (model, data, stages, budgets) in milliseconds.

Every mistake is a RecipeError that names the file, the place in it, and the fix; no
TensorFlow is imported here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import data, keras_model
from .data import DataSpec
from .errors import Prune2EdgeError, RecipeError
from .keras_model import ModelSpec
from .params import from_mapping, nearest, to_mapping, unknown_key_error
from .pipeline import Pipeline
from .stages import REGISTRY
from .stages.base import Stage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VERSIONS = (1,)
TOP_LEVEL = ("version", "name", "seed", "model", "data", "stages", "budgets")


@dataclass(frozen=True, kw_only=True)
class Budgets:
    """Limits `prune2edge check` enforces on a build's report."""

    max_bytes: int | None = None
    max_gzip_bytes: int | None = None
    min_accuracy: float | None = None  # .tflite accuracy on the test split, 0..1
    max_accuracy_drop: float | None = None  # percentage points below the baseline .tflite
    max_latency_ratio: float | None = None  # final p50 / baseline p50

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_gzip_bytes", "max_accuracy_drop", "max_latency_ratio"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RecipeError(f"{name} must be >= 0, got {value}", name, "use a limit >= 0")
        if self.min_accuracy is not None and not 0.0 <= self.min_accuracy <= 1.0:
            raise RecipeError(f"min_accuracy must be in [0, 1], got {self.min_accuracy}",
                              "min_accuracy", "write accuracy as a fraction, e.g. 0.97")


@dataclass(frozen=True, kw_only=True)
class Recipe:
    name: str
    model: ModelSpec
    data: DataSpec
    stages: tuple[Stage, ...]
    seed: int = 0
    version: int = 1
    budgets: Budgets = field(default_factory=Budgets)
    path: Path | None = None
    overrides: tuple[str, ...] = ()

    @property
    def base_dir(self) -> Path:
        """Where relative sources are looked up: the recipe file's directory."""
        return self.path.parent if self.path else Path.cwd()

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.stages)

    def describe(self) -> dict[str, Any]:
        """The recipe with every default filled in, for the report."""
        return {
            "path": str(self.path) if self.path else None,
            "version": self.version, "name": self.name, "seed": self.seed,
            "model": to_mapping(self.model), "data": to_mapping(self.data),
            "stages": [stage.params() for stage in self.stages],
            "budgets": {k: v for k, v in to_mapping(self.budgets).items() if v is not None},
            "overrides": list(self.overrides),
        }


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Read, override (`--set key=value`) and check a recipe file, or a bundled recipe's name."""
    path = resolve(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"cannot read the recipe ({exc.strerror})", str(path),
                          "check the path") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"not valid TOML ({exc})", str(path),
                          "fix the syntax; see the recipe reference in the README") from None
    overrides = tuple(overrides)
    try:
        document = apply_overrides(document, overrides)
        return parse_recipe(document, path=path, overrides=overrides)
    except Prune2EdgeError as exc:
        raise exc.located(str(path)) from None


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
    root = resources.files("prune2edge") / "recipes"
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
    if not isinstance(name, str) or not name:
        raise RecipeError("name must be a non-empty string", "name", 'write name = "my-model"')
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise RecipeError(f"seed must be an integer >= 0, got {seed!r}", "seed", "write seed = 0")
    for table in ("model", "data"):
        if table not in document:
            raise RecipeError(f"missing [{table}] table", None,
                              f'add [{table}] with source = "..."')
    model = from_mapping(ModelSpec, document["model"], "model")
    data_spec = from_mapping(DataSpec, document["data"], "data")
    base_dir = path.parent if path else Path.cwd()
    keras_model.check_source(model.source, base_dir)
    data.check_source(data_spec.source, base_dir)
    stages = parse_stages(document.get("stages", []))
    Pipeline(stages)  # checks the order before anything runs
    budgets = from_mapping(Budgets, document.get("budgets", {}), "budgets")
    return Recipe(name=name, model=model, data=data_spec, stages=stages, seed=seed,
                  version=version, budgets=budgets, path=path, overrides=overrides)


def parse_stages(tables: Any) -> tuple[Stage, ...]:
    if not isinstance(tables, list):
        raise RecipeError("stages must be a list of tables", "stages",
                          "write each stage as a [[stages]] table")
    stages = []
    for index, table in enumerate(tables, 1):
        where = f"stage {index}"
        if not isinstance(table, Mapping) or "kind" not in table:
            raise RecipeError("the stage has no kind", where,
                              f"set kind to one of: {', '.join(REGISTRY)}")
        kind = table["kind"]
        if kind not in REGISTRY:
            guess = nearest(str(kind), REGISTRY)
            hint = f"did you mean '{guess}'? " if guess else ""
            raise RecipeError(f"unknown stage kind {kind!r}", where,
                              f"{hint}kinds: {', '.join(REGISTRY)}")
        params = {k: v for k, v in table.items() if k != "kind"}
        stages.append(REGISTRY[kind].from_params(params, f"{where} ({kind})"))
    return tuple(stages)


def apply_overrides(document: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of `document` with `key.path=value` overrides applied.

    Stages are addressed by kind (`stages.finetune.epochs=2`, when there is one stage of that
    kind) or by 1-based position (`stages.3.epochs=2`). Values are TOML (`0.9`, `"adam"`,
    `[1, 4]`); a bare word is taken as a string.
    """
    document = _deep_copy(document)
    for override in overrides:
        key, sep, raw = override.partition("=")
        parts = [p.strip() for p in key.strip().split(".")]
        where = f"--set {override}"
        if not sep or not all(parts):
            raise RecipeError("an override needs the form KEY=VALUE", where,
                              "e.g. --set stages.finetune.epochs=2")
        value = parse_value(raw.strip())
        if parts[0] not in TOP_LEVEL:
            raise unknown_key_error(parts[0], TOP_LEVEL, where)
        if parts[0] == "stages":
            if len(parts) < 3:
                raise RecipeError("name a stage and a key", where,
                                  "e.g. stages.finetune.epochs=2 or stages.3.epochs=2")
            target = _select_stage(document.get("stages", []), parts[1], where)
            _set(target, parts[2:], value, where)
        else:
            _set(document, parts, value, where)
    return document


def _select_stage(stages: list[Any], selector: str, where: str) -> dict[str, Any]:
    if selector.isdigit():
        index = int(selector)
        if not 1 <= index <= len(stages):
            raise RecipeError(f"there is no stage {index}", where,
                              f"stages are numbered 1..{len(stages)}")
        return stages[index - 1]
    matches = [s for s in stages if isinstance(s, dict) and s.get("kind") == selector]
    if not matches:
        kinds = ", ".join(dict.fromkeys(str(s.get("kind")) for s in stages if isinstance(s, dict)))
        raise RecipeError(f"the recipe has no {selector} stage", where,
                          f"its stages are: {kinds or 'none'}")
    if len(matches) > 1:
        raise RecipeError(f"the recipe has {len(matches)} {selector} stages", where,
                          "address one by position, e.g. stages.3.epochs=2")
    return matches[0]


def _set(table: dict[str, Any], parts: list[str], value: Any, where: str) -> None:
    for part in parts[:-1]:
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"{part} is not a table", where, "override a key inside a table")
        table = child
    table[parts[-1]] = value


def parse_value(raw: str) -> Any:
    """A TOML value (`0.9`, `"adam"`, `[1, 4]`); a bare word is taken as a string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
