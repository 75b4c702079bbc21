"""tf_keras models this build saves and reads back itself: checkpoints, models moving into or
out of a distribution strategy."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from .. import _compat
from . import distill


def load_own(path: Path) -> Any:
    """A .keras file this build wrote: pruning wrappers, the distillation loss and the
    optimizer state included."""
    keras = _compat.keras()
    distill.register(keras)
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
