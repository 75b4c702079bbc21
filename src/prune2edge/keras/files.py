"""Models this build saves: the final model handed back to the user, and the ones it reads
back itself (checkpoints, models moving into or out of a distribution strategy)."""

from __future__ import annotations

import contextlib
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

from .. import _compat
from . import distill


def load_own(path: Path) -> Any:
    """A .keras file this build wrote: pruning wrappers, the distillation loss and the
    optimizer state included."""
    keras = _compat.keras()
    distill.register()
    with _compat.tfmot_sparsity().prune_scope():
        # safe_mode off: the file was written by this build, from the model it loaded
        return keras.models.load_model(path, safe_mode=False)


def reload(model: Any, path: Path, scope: Any = None) -> Any:
    """`model` saved to `path` (removed after) and loaded again within `scope` (e.g. a
    distribution strategy's), so that its variables and optimizer state live there."""
    model.save(path)
    try:
        with scope or contextlib.nullcontext():
            return load_own(path)
    finally:
        path.unlink()


ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def hand_back(model: Any, directory: Path, h5: bool = False) -> list[Path]:
    """Save the final model for the user: plain layers (pruning wrappers stripped, zeros
    kept), no optimizer, as `model.keras` (and `model.h5`), byte-identical for the same
    model. Loading it needs tf_keras alone."""
    from .model import clone, has_pruning_wrappers

    plain = _compat.tfmot_sparsity().strip_pruning(model) if has_pruning_wrappers(model) \
        else model
    plain = clone(plain)  # uncompiled: no optimizer state, no training loss
    written = [directory / "model.keras"]
    unsorted = directory / ".unsorted-model.keras"
    plain.save(unsorted)
    try:
        _reproducible_zip(unsorted, written[0])
    finally:
        unsorted.unlink(missing_ok=True)
    if h5:
        written.append(directory / "model.h5")
        with warnings.catch_warnings():  # asked for: the input was an .h5 file
            warnings.filterwarnings("ignore", "You are saving your model as an HDF5 file")
            plain.save(written[-1])
    return written


def _reproducible_zip(source: Path, target: Path) -> None:
    """A copy of a .keras archive without what changes from one save to the next: the
    entries' timestamps and the save date in its metadata."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for entry in original.infolist():
            content = original.read(entry)
            if entry.filename == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata).encode()
            fixed = zipfile.ZipInfo(entry.filename, ZIP_TIME)
            fixed.compress_type = entry.compress_type
            fixed.external_attr = 0o644 << 16
            copy.writestr(fixed, content)
