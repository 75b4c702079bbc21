"""Zeros held while other layers are pruned or clustered: a tfmot pruning wrapper whose mask is
set once, at the first training step, to the zeros the layer already has."""

from __future__ import annotations

from typing import Any

from .. import _compat
from ..sparsity.schedules import ConstantSparsity


def hold_zeros(layer: Any, share: float) -> Any:
    """`layer` wrapped by tfmot's `prune_low_magnitude` at its own share of zeros, the mask
    taken at step 1 (the smallest weights: exactly its zeros) and never recomputed."""
    sparsity = _compat.tfmot_sparsity()
    hold = ConstantSparsity(target_sparsity=share, begin_step=1, end_step=1, frequency=1)
    return sparsity.prune_low_magnitude(layer, pruning_schedule=hold.to_tfmot(sparsity))
