"""Stage kinds by the `kind` name recipes use, filled by the `@register_stage` decorator.

The built-in stages (the modules of `prune2edge.stages`) are imported on the first lookup, so
recipe code can find every kind without importing them itself.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from .facts import Fact
from .stage import Stage

BUILTIN_STAGES = "prune2edge.stages"

_REGISTRY: dict[str, type[Stage]] = {}

S = TypeVar("S", bound=type[Stage])


def register_stage(cls: S) -> S:
    """Class decorator: make a stage class available to recipes under its `kind`."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind.isidentifier():
        raise TypeError(f"{cls.__name__} needs a `kind` class attribute, e.g. kind = 'strip'")
    params = cls.__dict__.get("__dataclass_params__")  # set by its own @dataclass
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass "
                        "(@dataclass(frozen=True, kw_only=True))")
    known = _REGISTRY.get(kind)
    if known is not None and _name(known) != _name(cls):
        raise TypeError(f"stage kind {kind!r} is registered twice: {_name(known)} and "
                        f"{_name(cls)}")
    _REGISTRY[kind] = cls
    return cls


def stages() -> dict[str, type[Stage]]:
    """Every registered stage class by kind (the built-in ones first, in pipeline order)."""
    importlib.import_module(BUILTIN_STAGES)
    return dict(_REGISTRY)


def makers_of(fact: Fact) -> list[str]:
    """The kinds of the stages that provide `fact`."""
    return [kind for kind, cls in stages().items() if fact in cls.provides]


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
