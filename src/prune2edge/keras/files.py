"""tf_keras models this build saves and reads back itself: checkpoints, models moving into or
out of a distribution strategy (`engine.model_engine.reloaded`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import _compat
from . import distill


def load_own(path: Path) -> Any:
    """A .keras file this build wrote: pruning and clustering wrappers, the distillation loss
    and the optimizer state included."""
    keras = _compat.keras()
    distill.register(keras)
    with _compat.tfmot_sparsity().prune_scope(), _compat.tfmot_clustering().cluster_scope():
        # safe_mode off: the file was written by this build, from the model it loaded
        return keras.models.load_model(path, safe_mode=False)

