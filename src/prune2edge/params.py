"""Plain data (TOML tables and values) -> frozen dataclasses, with one clear error per mistake.

Dataclasses declare their parameters with type hints; this module checks keys and types.
Value checks (ranges, relations) live in each dataclass's `__post_init__`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from .errors import RecipeError, nearest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def unknown_key_error(key: str, allowed: typing.Iterable[str], where: str) -> RecipeError:
    allowed = sorted(allowed)
    guess = nearest(key, allowed)
    hint = f"did you mean '{guess}'? " if guess else ""
    listing = ", ".join(allowed) if allowed else "none"
    return RecipeError(f"unknown key '{key}'", where, f"{hint}allowed keys: {listing}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def init_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.init]


def from_mapping(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Build dataclass `cls` from `values`, checking keys, types and the class's own checks."""
    if not isinstance(values, Mapping):
        raise RecipeError(
            f"expected a table, got {describe(values)}", where, "write it as { key = value, ... }"
        )
    fields = {f.name: f for f in init_fields(cls)}
    allowed = set(fields) | ({"kind"} if hasattr(cls, "kind") else set())
    for key in values:
        if key not in allowed:
            raise unknown_key_error(key, allowed, where)
    hints = _hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name in values:
            kwargs[name] = coerce(values[name], hints[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise RecipeError(f"missing key '{name}'", where, f"add {name} = ...")
    try:
        return cls(**kwargs)
    except RecipeError as exc:
        raise exc.located(where) from exc


def to_mapping(obj: Any) -> Any:
    """The inverse of `from_mapping`: dataclasses -> plain dicts with their `kind`; unset
    optional fields (None) are left out, as TOML has no null."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {"kind": obj.kind} if hasattr(obj, "kind") else {}
        for field in init_fields(type(obj)):
            value = getattr(obj, field.name)
            if value is not None:
                out[field.name] = to_mapping(value)
        return out
    if isinstance(obj, tuple | list):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


def describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    for kind, text in kinds.items():
        if type(value) is kind:
            return f"{text} ({value!r})" if kind is not dict else text
    return type(value).__name__


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Check `value` against type hint `hint`; return it in the dataclass's own type."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return _coerce_union(value, get_args(hint), where)
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            guess = nearest(str(value), [str(c) for c in choices])
            hint_text = f"did you mean '{guess}'? " if guess else ""
            raise RecipeError(f"{value!r} is not allowed", where,
                              f"{hint_text}use one of {options}")
        return value
    if origin is tuple:
        return _coerce_tuple(value, get_args(hint), where)
    if origin is dict:
        key_type, value_type = get_args(hint)
        if not isinstance(value, Mapping):
            raise RecipeError(f"expected a table, got {describe(value)}", where,
                              "write it as { name = value, ... }")
        return {coerce(k, key_type, where): coerce(v, value_type, f"{where}.{k}")
                for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise RecipeError(f"expected a finite number, got {value!r}", where,
                                  f"write {_type_example(hint)}")
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a programming error in a dataclass, not a user error
        raise TypeError(f"unsupported parameter type {hint!r} at {where}")
    raise RecipeError(f"expected {_type_name(hint)}, got {describe(value)}", where,
                      f"write {_type_example(hint)}")


def _coerce_union(value: Any, arms: tuple[Any, ...], where: str) -> Any:
    arms = tuple(a for a in arms if a is not type(None))
    tagged = [a for a in arms
              if isinstance(a, type) and dataclasses.is_dataclass(a) and hasattr(a, "kind")]
    if tagged and len(tagged) == len(arms):
        return _coerce_tagged(value, tagged, where)
    errors = []
    for arm in arms:
        try:
            return coerce(value, arm, where)
        except RecipeError as exc:
            errors.append(exc)
    names = " or ".join(_type_name(a) for a in arms)
    raise RecipeError(f"expected {names}, got {describe(value)}", where, errors[0].fix)


def _coerce_tagged(value: Any, classes: list[Any], where: str) -> Any:
    by_kind = {c.kind: c for c in classes}
    if not isinstance(value, Mapping) or "kind" not in value:
        raise RecipeError("missing 'kind'", where, f"set kind to one of {', '.join(by_kind)}")
    kind = value["kind"]
    if kind not in by_kind:
        guess = nearest(str(kind), by_kind)
        hint = f"did you mean '{guess}'? " if guess else ""
        raise RecipeError(f"unknown kind {kind!r}", where, f"{hint}use one of {', '.join(by_kind)}")
    return from_mapping(by_kind[kind], value, where)


def _coerce_tuple(value: Any, args: tuple[Any, ...], where: str) -> tuple:
    if not isinstance(value, list | tuple):
        raise RecipeError(f"expected a list, got {describe(value)}", where,
                          f"write {_type_example(_tuple_of(args))}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise RecipeError(f"expected a list of {len(args)} values, got {len(value)}", where,
                          f"write {_type_example(_tuple_of(args))}")
    pairs = enumerate(zip(value, args, strict=True))
    return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in pairs)


def _tuple_of(args: tuple[Any, ...]) -> Any:
    """The hint tuple[args...] (for examples in messages)."""
    return tuple.__class_getitem__(args)


def _type_name(hint: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    if get_origin(hint) is tuple:
        return "a list"
    if get_origin(hint) is dict:
        return "a table"
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(c) for c in get_args(hint))
    if dataclasses.is_dataclass(hint):
        return "a table"
    return str(hint)


def _type_example(hint: Any) -> str:
    examples = {bool: "true", int: "10", float: "0.5", str: '"text"'}
    if hint in examples:
        return f"a value like {examples[hint]}"
    if get_origin(hint) is tuple:
        args = get_args(hint)
        items = [examples.get(args[0], "...")] * (1 if args[-1] is Ellipsis else len(args))
        return "a list like [" + ", ".join(items) + "]"
    return "a valid value"


def parse_value(raw: str) -> Any:
    """A TOML value (`0.9`, `"adam"`, `[1, 4]`); a bare word is taken as a string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw
