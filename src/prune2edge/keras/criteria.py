"""Importance criteria: which weights, or which whole units/filters, matter least.

Each criterion is an object with one interface (as Torch-Pruning's importance classes):
`weight_scores` gives a score per weight (unstructured pruning), `channel_scores` a score
per output channel of a layer (structural pruning); lower scores go first. Register a new
one with `@register_criterion`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import RecipeError
from .hessian import gauss_newton_diagonal, obd_saliency


class Criterion:
    """How important weights and channels are; lower scores are pruned first."""

    name: ClassVar[str]
    needs_data: ClassVar[bool] = False  # whether scores need training samples (`x`)

    def weight_scores(self, model: Any, variables: list[Any],
                      x: np.ndarray | None = None) -> list[np.ndarray]:
        """A score per weight of each variable."""
        raise RecipeError(f"criterion {self.name!r} ranks whole units, not single weights",
                          "criterion", f"use one of: {', '.join(supporting('weight_scores'))}")

    def channel_scores(self, model: Any, layers: list[str],
                       x: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """A score per output channel (unit/filter) of each named layer."""
        raise RecipeError(f"criterion {self.name!r} ranks single weights, not units",
                          "criterion", f"use one of: {', '.join(supporting('channel_scores'))}")


CRITERIA: dict[str, Criterion] = {}


def register_criterion(cls: type[Criterion]) -> type[Criterion]:
    """Class decorator: make a criterion available by its `name`."""
    CRITERIA[cls.name] = cls()
    return cls


def criterion(name: str) -> Criterion:
    if name not in CRITERIA:
        raise RecipeError(f"unknown criterion {name!r}", "criterion",
                          f"use one of: {', '.join(CRITERIA)}")
    return CRITERIA[name]


def supporting(method: str) -> list[str]:
    """Names of the criteria that implement `method` themselves."""
    return [name for name, c in CRITERIA.items()
            if getattr(type(c), method) is not getattr(Criterion, method)]


@register_criterion
class Magnitude(Criterion):
    """|w|: the smallest weights go first (tfmot's own ranking)."""

    name = "magnitude"

    def weight_scores(self, model: Any, variables: list[Any],
                      x: np.ndarray | None = None) -> list[np.ndarray]:
        return [np.abs(v.numpy()) for v in variables]


class _Norm(Criterion):
    """The norm of each output channel's incoming weights (the kernel's last axis)."""

    def channel_scores(self, model: Any, layers: list[str],
                       x: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {name: channel_norms(output_weights(model.get_layer(name))[0].numpy(), self.name)
                for name in layers}


@register_criterion
class L1(_Norm):
    name = "l1"


@register_criterion
class L2(_Norm):
    name = "l2"


def channel_norms(kernel: np.ndarray, norm: str) -> np.ndarray:
    """The L1 or L2 norm of each output channel (last axis) of a kernel."""
    flat = kernel.reshape(-1, kernel.shape[-1])
    if norm == "l1":
        return np.abs(flat).sum(axis=0)
    return np.sqrt(np.square(flat).sum(axis=0))


@register_criterion
class OBD(Criterion):
    """Optimal Brain Damage saliency from the Gauss-Newton diagonal (see `hessian`)."""

    name = "obd"
    needs_data = True

    def weight_scores(self, model: Any, variables: list[Any],
                      x: np.ndarray | None = None) -> list[np.ndarray]:
        diagonals = gauss_newton_diagonal(model, _samples(x), weights=variables)
        return [obd_saliency(v.numpy(), h) for v, h in zip(variables, diagonals, strict=True)]

    def channel_scores(self, model: Any, layers: list[str],
                       x: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The summed saliency of each channel's incoming weights and bias: what removing
        the channel deletes from the layer."""
        variables = [v for name in layers for v in output_weights(model.get_layer(name))]
        diagonals = dict(zip([id(v) for v in variables],
                             gauss_newton_diagonal(model, _samples(x), weights=variables),
                             strict=True))
        scores = {}
        for name in layers:
            total: Any = 0.0
            for variable in output_weights(model.get_layer(name)):
                saliency = obd_saliency(variable.numpy(), diagonals[id(variable)])
                total = total + saliency.reshape(-1, saliency.shape[-1]).sum(axis=0)
            scores[name] = total
        return scores


def output_weights(layer: Any) -> list[Any]:
    """The weights whose last axis indexes the layer's output channels: its kernel (the
    pointwise one of a separable convolution) and bias."""
    kernel = getattr(layer, "pointwise_kernel", None)
    kernel = layer.kernel if kernel is None else kernel
    bias = getattr(layer, "bias", None)
    return [kernel] if bias is None else [kernel, bias]


def _samples(x: np.ndarray | None) -> np.ndarray:
    if x is None:
        raise ValueError("OBD needs training samples (x) for its Hessian diagonal")
    return x


def unstructured_mask(score: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep all but the `sparsity` share of weights with the lowest scores."""
    return lowest_mask(score, zero_count(score.size, sparsity))


def lowest_mask(score: np.ndarray, count: int) -> np.ndarray:
    """Keep all but the `count` weights with the lowest scores."""
    flat = score.ravel()
    mask = np.ones(flat.size, bool)
    mask[np.argsort(flat, kind="stable")[:count]] = False
    return mask.reshape(score.shape)


def zero_count(size: int, sparsity: float) -> int:
    """How many of `size` weights tfmot zeroes at `sparsity` (it keeps round(size x (1 -
    sparsity)) in float32, at least one). Zeroing one more would make tfmot's mask keep every
    weight: its threshold would be 0, and it keeps weights >= the threshold."""
    kept = np.round(np.float32(size) * (np.float32(1) - np.float32(sparsity)))
    return size - max(int(kept), 1)


def spread(total: int, sizes: list[int]) -> list[int]:
    """`total` split over parts of `sizes` in proportion, adding up exactly."""
    ends = np.round(total * np.cumsum(sizes) / max(sum(sizes), 1)).astype(int)
    return np.diff(ends, prepend=0).tolist()


def m_by_n_mask(score: np.ndarray, m_by_n: tuple[int, int]) -> np.ndarray:
    """Keep all but the m lowest-scored of every n consecutive entries of the last axis (as
    tfmot's `sparsity_m_by_n`: m zeros in every n); the last axis must divide by n."""
    m, n = m_by_n
    groups = score.reshape(*score.shape[:-1], -1, n)
    mask = np.ones(groups.shape, bool)
    np.put_along_axis(mask, np.argsort(groups, axis=-1, kind="stable")[..., :m], False, axis=-1)
    return mask.reshape(score.shape)


def kernel_mask(score: np.ndarray, sparsity: float,
                m_by_n: tuple[int, int] | None = None) -> np.ndarray:
    """`unstructured_mask`, or `m_by_n_mask` along a kernel's input axis (its second last,
    where tfmot puts the n consecutive weights)."""
    if m_by_n is None:
        return unstructured_mask(score, sparsity)
    return np.moveaxis(m_by_n_mask(np.moveaxis(score, -2, -1), m_by_n), -1, -2)
