"""`--set key.path=value` overrides, applied to a recipe document before it is checked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import RecipeError
from ..params import parse_value, unknown_key_error

TOP_LEVEL = ("version", "name", "seed", "model", "data", "stages", "budgets", "tune",
             "distribute")


def apply_overrides(document: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of `document` with `key.path=value` overrides applied.

    Stages are addressed by kind (`stages.finetune.epochs=2`, when there is one stage of that
    kind) or by 1-based position (`stages.3.epochs=2`). Values are TOML (`0.9`, `"adam"`,
    `[1, 4]`); a bare word is taken as a string.
    """
    copied: dict[str, Any] = _deep_copy(document)
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
            target = _select_stage(copied.get("stages", []), parts[1], where)
            _set(target, parts[2:], value, where)
        else:
            _set(copied, parts, value, where)
    return copied


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


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
