"""The recipe's [data] table and the cheap checks of a data source (no loading, no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DataError, RecipeError
from ..sources import is_callable_source, resolve_path

BUILTIN = {"mnist": "mnist-10k.npz"}
RECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfr")


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """The recipe's [data] table."""

    source: str = "builtin:mnist"
    test_split: float = 0.2  # share held out for testing when the source has no test split
    scale: float | Literal["auto", "none"] = "auto"  # auto: uint8 -> [0, 1]; or a factor
    resize: bool = True  # resize images to the model's input height and width
    channels: Literal["auto", "keep"] = "auto"  # auto: gray <-> RGB to match the model
    image_key: str = "image"  # TFRecord sources: the feature holding the encoded image
    label_key: str = "label"  # TFRecord sources: the feature holding the integer label

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
    if record_files(source, base_dir) == []:
        raise DataError("no TFRecord files match", source,
                        "give a .tfrecord file or a pattern such as shards/train-*.tfrecord")
    path = resolve_path(source, base_dir)
    if not path.exists() and not has_glob(source):
        raise DataError("data file not found", str(path),
                        "give an .npz, an image folder or TFRecord files (relative to the "
                        "recipe), a module:function, or builtin:mnist")


def has_glob(source: str) -> bool:
    return any(c in source for c in "*?[")


def record_files(source: str, base_dir: Path) -> list[Path] | None:
    """The TFRecord files `source` names (a file or a glob pattern with a TFRecord suffix),
    sorted; None when it names no TFRecords."""
    if not source.lower().endswith(RECORD_SUFFIXES):
        return None
    path = resolve_path(source, base_dir)
    if not has_glob(source):
        return [path] if path.is_file() else []
    return sorted(p for p in Path(path.anchor).glob(str(path.relative_to(path.anchor)))
                  if p.is_file())
