"""tensorflow-model-optimization's Keras APIs, and the private ones prune2edge reads."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from .core import _require, keras


@functools.cache
def tfmot_sparsity() -> ModuleType:
    """`tensorflow_model_optimization.sparsity.keras`."""
    keras()
    return _require("tensorflow_model_optimization.sparsity.keras",
                    "tensorflow-model-optimization")


def tfmot_weight_names(layer: Any) -> list[str] | None:
    """The attribute names of the weights tfmot prunes in `layer`, None when tfmot cannot
    prune it. Layers implementing `PrunableLayer` name their own (see `prunable_weights`).

    Private: `PruneRegistry._LAYERS_WEIGHTS_MAP` and `_weight_names`, checked against
    tensorflow-model-optimization 0.8.1."""
    tfmot_sparsity()
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    registry = prune_registry.PruneRegistry
    if type(layer) in registry._LAYERS_WEIGHTS_MAP:
        return list(registry._weight_names(layer))
    return ["kernel"] if registry.supports(layer) else None


def is_prunable_layer(layer: Any) -> bool:
    """Whether `layer` implements tfmot's `PrunableLayer` (it lists its own weights)."""
    return isinstance(layer, tfmot_sparsity().PrunableLayer)



@functools.cache
def tfmot_clustering() -> ModuleType:
    """`tensorflow_model_optimization.clustering.keras`."""
    keras()
    return _require("tensorflow_model_optimization.clustering.keras",
                    "tensorflow-model-optimization")


def tfmot_clusterable_weights(layer: Any) -> list[tuple[str, Any]] | None:
    """(name, variable) of each weight tfmot clusters in `layer` (empty: tfmot leaves its
    weights alone, e.g. DepthwiseConv2D's), None for a layer type its registry does not map.
    Layers implementing `ClusterableLayer` name their own.

    Private: `ClusteringRegistry._LAYERS_WEIGHTS_MAP`, checked against
    tensorflow-model-optimization 0.8.1."""
    clustering = tfmot_clustering()
    if isinstance(layer, clustering.ClusterableLayer):
        return list(layer.get_clusterable_weights())
    from tensorflow_model_optimization.python.core.clustering.keras import clustering_registry

    names = clustering_registry.ClusteringRegistry._LAYERS_WEIGHTS_MAP.get(type(layer))
    return None if names is None else [(n, getattr(layer, n)) for n in names if hasattr(layer, n)]


@functools.cache
def tfmot_quantization() -> ModuleType:
    """`tensorflow_model_optimization.quantization.keras`."""
    keras()
    return _require("tensorflow_model_optimization.quantization.keras",
                    "tensorflow-model-optimization")


@functools.cache
def tfmot_combine() -> ModuleType:
    """`tensorflow_model_optimization.experimental.combine`: the quantization schemes of
    collaborative optimization, which keep zeros and clusters."""
    keras()
    return _require("tensorflow_model_optimization.experimental.combine",
                    "tensorflow-model-optimization")



def tfmot_per_tensor(scheme: Any) -> Any:
    """One of tfmot's collaborative 8-bit schemes (which keep zeros or clusters) with
    convolution kernels faked per tensor (one scale, as Dense kernels), not per output
    channel; tfmot's plain scheme takes `disable_per_axis = True` for that.

    Private: the schemes' registries' `_config_quantizer_map`, whose
    "Default8BitConvQuantizeConfig" quantizer becomes the "Default8BitQuantizeConfig" one
    (checked against tensorflow-model-optimization 0.8.1)."""
    registry_of = scheme.get_quantize_registry

    def registry() -> Any:
        made = registry_of()
        quantizers = made._config_quantizer_map
        quantizers["Default8BitConvQuantizeConfig"] = quantizers["Default8BitQuantizeConfig"]
        return made

    scheme.get_quantize_registry = registry
    return scheme


@contextlib.contextmanager
def tfmot_centroids_per_tensor() -> Iterator[None]:
    """While it lasts, tfmot's cluster-preserving quantization-aware training keeps one set of
    centroids for a convolution's kernel, as for a Dense one, where it would take the values
    of each channel apart when the channels hold about as many values each (and let them
    move apart).

    Private: `cluster_preserve_quantize_registry.get_centroids` (replaced) and `get_unique`,
    checked against tensorflow-model-optimization 0.8.1."""
    registry: Any = _require("tensorflow_model_optimization.python.core.quantization.keras."
                             "collab_opts.cluster_preserve.cluster_preserve_quantize_registry",
                             "tensorflow-model-optimization")
    original = registry.get_centroids

    def per_tensor(layer: Any, weight: Any, data_format: Any) -> tuple[Any, Any, Any, bool]:
        centroids, index = registry.get_unique(weight)
        return centroids, registry.tf.size(centroids), index, False

    registry.get_centroids = per_tensor
    try:
        yield
    finally:
        registry.get_centroids = original
