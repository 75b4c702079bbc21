"""The final model handed back to the user: plain layers, no optimizer, the same bytes for the
same model, in the engine's Keras."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

from .model_engine import ModelEngine

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def hand_back(engine: ModelEngine, model: Any, masks: Any, directory: Path,
              h5: bool = False) -> list[Path]:
    """Save the final model for the user: plain layers (pruning stripped, zeros kept), no
    optimizer, as `model.keras` (and `model.h5`), byte-identical for the same model. Loading
    it needs the engine's Keras alone (tf_keras, or Keras 3)."""
    plain = engine.clone(engine.strip(model, masks))  # uncompiled: no optimizer, no loss
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
