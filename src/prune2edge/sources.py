"""What recipes name as sources: paths (relative to the recipe) and user functions
(`package.module:function` or `path/to/file.py:function`; calling one runs the user's code,
and the report says so)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import Prune2EdgeError, nearest

MODULE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
FILE = re.compile(r"^(?P<path>.+\.py):(?P<name>[A-Za-z_]\w*)$")


def is_callable_source(source: str) -> bool:
    return bool(MODULE.match(source) or FILE.match(source))


def resolve_path(source: str, base_dir: Path) -> Path:
    path = Path(source).expanduser()
    return path if path.is_absolute() else base_dir / path


def resolve_function(source: str, base_dir: Path,
                     error: type[Prune2EdgeError]) -> Callable[..., Any]:
    """The function a source names; `error` is the error class to raise (ModelError, ...)."""
    match = FILE.match(source)
    if match:
        path = resolve_path(match["path"], base_dir)
        if not path.is_file():
            raise error("Python file not found", str(path), "give a path relative to the recipe")
        module = _import_file(path, error)
        name = match["name"]
    else:
        module_name, name = source.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise error(f"cannot import module {module_name!r} ({exc})", source,
                        "check the module name and that it is importable (PYTHONPATH)") from exc
    function = getattr(module, name, None)
    if not callable(function):
        where = str(path) if match else module.__name__
        defined = [n for n, value in vars(module).items()
                   if callable(value) and not n.startswith("_")
                   and getattr(value, "__module__", None) == module.__name__]
        guess = nearest(name, defined)
        hint = f"did you mean {guess!r}? " if guess else ""
        raise error(f"{where} has no function {name!r}", source,
                    f"{hint}name a function defined there"
                    + (f" ({', '.join(sorted(defined)[:8])})" if defined and not guess else ""))
    return function


def _import_file(path: Path, error: type[Prune2EdgeError]) -> Any:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"prune2edge_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise error("cannot import the file as a Python module", str(path),
                    "give a path to a .py file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module failed while importing
        raise error(f"importing {path.name} failed ({type(exc).__name__}: {exc})", str(path),
                    "fix the error in that file") from exc
    sys.modules[name] = module
    return module


def call_function(source: str, base_dir: Path, error: type[Prune2EdgeError]) -> Any:
    """Call the function a source names; its own exceptions become one clear `error`."""
    function = resolve_function(source, base_dir, error)
    try:
        return function()
    except Prune2EdgeError:
        raise
    except Exception as exc:  # the user's function failed
        raise error(f"{source} raised {type(exc).__name__}: {exc}", source,
                    "fix the function; it is called with no arguments") from exc
