"""The distinct values weights take, per tensor or per channel: what clustering brings down."""

from __future__ import annotations

import numpy as np


def channels(values: np.ndarray, axis: int | None) -> list[np.ndarray]:
    """`values` sliced along `axis`, a channel a slice; whole, as one slice, when `axis` is
    None."""
    return [values] if axis is None else list(np.moveaxis(values, axis, 0))


def most_in_a_channel(values: np.ndarray, axis: int | None) -> int:
    """The most distinct values in one slice of `values` along `axis` (a channel); over the
    whole array when `axis` is None."""
    if values.size == 0:
        return 0
    return max(len(np.unique(channel)) for channel in channels(values, axis))
