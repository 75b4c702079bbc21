"""Weight clustering of tf_keras models by tfmot's `cluster_weights`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _compat
from . import model as facts
from .holding import hold_zeros

INITS = {"linear": "LINEAR", "kmeans++": "KMEANS_PLUS_PLUS", "density": "DENSITY_BASED"}


@dataclass(frozen=True)
class Clustering:
    """What `cluster_weights` is asked for (tfmot's arguments, in the recipe's words)."""

    clusters: int
    init: str  # a key of INITS
    preserve_sparsity: bool
    per_channel: bool  # Conv2D kernels only, as tfmot does it


def clusterable_weights(layer: Any) -> list[Any] | None:
    """The weight variables tfmot would cluster in `layer`; None for a layer type it cannot
    cluster."""
    found = _compat.tfmot_clusterable_weights(layer)
    return None if found is None else [weight for _, weight in found]


def per_channel_applies(layer: Any) -> bool:
    """Whether tfmot clusters `layer`'s kernel channel by channel when asked (Conv2D only)."""
    return isinstance(layer, _compat.keras().layers.Conv2D)


def cluster(model: Any, chosen: set[str], clustering: Clustering,
            held: dict[str, float]) -> Any:
    """A copy of `model` whose chosen layers are wrapped by tfmot's `cluster_weights`, and
    the `held` ones (name: share of zeros) by tfmot's pruning, its mask holding exactly their
    zeros while the model fine-tunes."""
    tfmot = _compat.tfmot_clustering()
    init = getattr(tfmot.CentroidInitialization, INITS[clustering.init])

    def wrap(layer: Any) -> Any:
        if layer.name in chosen:
            return tfmot.cluster_weights(
                layer, number_of_clusters=clustering.clusters, cluster_centroids_init=init,
                preserve_sparsity=clustering.preserve_sparsity,
                cluster_per_channel=clustering.per_channel and per_channel_applies(layer))
        return hold_zeros(layer, held[layer.name]) if layer.name in held else layer

    return _compat.keras().models.clone_model(model, clone_function=wrap)


def has_clustering_wrappers(model: Any) -> bool:
    return facts.has_wrappers(model, facts.CLUSTERING)


def clustered(model: Any) -> dict[str, tuple[int, bool]]:
    """Each clustering-wrapped layer of `model`: (clusters, per channel), by layer name."""
    return {layer.layer.name: (layer.number_of_clusters, bool(layer.cluster_per_channel))
            for layer in model.layers if type(layer).__name__ in facts.CLUSTERING}


def strip(model: Any) -> Any:
    """tfmot's `strip_clustering`: plain layers holding the centroids' values."""
    return _compat.tfmot_clustering().strip_clustering(model)
