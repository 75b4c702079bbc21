"""Weight clustering of tf_keras models by tfmot's `cluster_weights`, and how many distinct
values the clustered weights hold once the wrappers are stripped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _compat
from ..sparsity.distinct import channels, most_in_a_channel
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


def too_few_weights(layer: Any, clustering: Clustering) -> str | None:
    """Why `layer` has too few weights for the clusters asked (None when it has enough): each
    tensor (each channel, per channel) needs more values than clusters and, where zeros are
    kept, a non-zero value for each non-zero centroid (tfmot's initialisations fail short of
    that)."""
    per_channel = clustering.per_channel and per_channel_applies(layer)
    where = "a channel of its kernel" if per_channel else "its kernel"
    for weight in clusterable_weights(layer) or []:
        slices = channels(np.asarray(weight.numpy()), -1 if per_channel else None)
        least = min(values.size for values in slices)
        if least <= clustering.clusters:
            return f"{where} has {least} weights, not more than {clustering.clusters} clusters"
        if clustering.preserve_sparsity:
            nonzero = min(int(np.count_nonzero(values)) for values in slices)
            if nonzero < clustering.clusters - 1:
                return (f"{where} has {nonzero} non-zero weights, fewer than the "
                        f"{clustering.clusters - 1} non-zero clusters")
    return None


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


def distinct_values(model: Any, layers: dict[str, tuple[int, bool]]) -> list[dict[str, Any]]:
    """For each layer in `layers` (as `clustered` gives them) of the stripped `model`: the
    clusters asked and the most distinct values in one of its clustered tensors (in one
    channel, per channel)."""
    found = []
    for name, (clusters, per_channel) in layers.items():
        axis = -1 if per_channel else None
        counts = [most_in_a_channel(np.asarray(w.numpy()), axis)
                  for w in clusterable_weights(model.get_layer(name)) or []]
        found.append({"layer": name, "clusters": clusters, "distinct": max(counts, default=0),
                      "per_channel": per_channel})
    return found
