"""The recipe's [data] table and the cheap checks of a data source (no loading, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DataError, RecipeError
from ..sources import is_callable_source, resolve_path

BUILTIN = {"mnist": "mnist-10k.npz"}


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """The recipe's [data] table."""

    source: str = "builtin:mnist"
    test_split: float = 0.2  # share held out for testing when the source has no test split
    scale: float | Literal["auto", "none"] = "auto"  # auto: uint8 -> [0, 1]; or a factor
    resize: bool = True  # resize images to the model's input height and width
    channels: Literal["auto", "keep"] = "auto"  # auto: gray <-> RGB to match the model

    def __post_init__(self) -> None:
        if not 0.0 < self.test_split < 1.0:
            raise RecipeError(f"test_split must be in (0, 1), got {self.test_split}",
                              "test_split", "hold out a fraction such as 0.2")


def is_builtin(source: str) -> bool:
    return source.startswith("builtin:")


def check_source(source: str, base_dir: Path) -> None:
    """Cheap checks that need no loading, run while the recipe is read."""
    if is_builtin(source):
        name = source.removeprefix("builtin:")
        if name not in BUILTIN:
            raise DataError(f"unknown bundled dataset {name!r}", f"data.source = {source!r}",
                            f"use one of: {', '.join('builtin:' + n for n in BUILTIN)}")
        return
    if is_callable_source(source):
        return
    path = resolve_path(source, base_dir)
    if not path.exists():
        raise DataError("data file not found", str(path),
                        "give an .npz or an image folder (relative to the recipe), a "
                        "module:function, or builtin:mnist")
