"""What quantization-aware training keeps of earlier stages in a Keras 3 model (tfmot's PQAT,
CQAT, PCQAT): after every batch each kernel's zeros are set back to zero, and weights that
shared a value (a cluster) share again the mean of what training made of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _compat


class Kept:
    """The zeros (`zeros`) and shared values (`clusters`) of `variables`, as they are now."""

    def __init__(self, variables: list[Any], zeros: bool, clusters: bool):
        self.variables = variables
        self.zeros = [np.asarray(v.numpy()) == 0 if zeros else None for v in variables]
        self.groups = [np.unique(np.asarray(v.numpy()), return_inverse=True)[1].ravel()
                       if clusters else None for v in variables]

    def apply(self) -> None:
        for variable, zeros, group in zip(self.variables, self.zeros, self.groups, strict=True):
            value = np.asarray(variable.numpy())
            if group is not None:  # each shared value the mean of its weights
                means = np.bincount(group, value.ravel()) / np.bincount(group)
                value = means[group].reshape(value.shape)
            if zeros is not None:
                value = np.where(zeros, 0, value)
            variable.assign(value.astype(variable.dtype))


def keep(kept: Kept) -> Any:
    """A Keras 3 callback that applies `kept` after every training batch."""
    keras = _compat.keras3_engine()

    class Keep(keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            kept.apply()

    return Keep()
