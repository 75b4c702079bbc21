"""Quantization-aware training of tf_keras models with tfmot: which layers its 8-bit scheme
fakes int8 in, the scheme that keeps an earlier prune's zeros and clustering's values (PQAT,
CQAT, PCQAT), and the float model with the trained weights."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import numpy as np

from .. import _compat
from ..errors import Unquantizable
from . import model as facts

# How tfmot's quantize_apply refuses a layer (tensorflow-model-optimization 0.8.1).
REFUSED = re.compile(r"Layer (\S+?):<class '(?:[\w.]+\.)?(\w+)'> is not supported")


def scheme_name(keep_zeros: bool, keep_clusters: bool) -> str:
    """tfmot's name for the scheme: QAT, PQAT (zeros kept), CQAT (clusters), PCQAT (both)."""
    return {(False, False): "QAT", (True, False): "PQAT", (False, True): "CQAT",
            (True, True): "PCQAT"}[(keep_zeros, keep_clusters)]


def quantize(model: Any, keep_zeros: bool, keep_clusters: bool, allow_float: bool,
             per_channel: bool = True) -> tuple[Any, dict[str, str]]:
    """`model` made quantization-aware with the scheme that keeps what the earlier stages
    made (convolution kernels faked per output channel, or per tensor), and the layers left
    in float (with why). tfmot decides what it can quantize when
    it applies the scheme (a BatchNormalization after a convolution is folded into it, one
    elsewhere is not supported): a layer it refuses raises `Unquantizable`, or with
    `allow_float` is left in float and the scheme applied again."""
    left: dict[str, str] = {}
    while True:
        try:
            return _apply(model, _scheme(keep_zeros, keep_clusters, per_channel),
                          set(left), per_channel), left
        except (ValueError, RuntimeError) as exc:
            refused = REFUSED.search(str(exc))
            if refused is None:
                raise
            name, kind = refused.groups()
            reason = f"tfmot's 8-bit scheme has no quantization for {kind}"
            if not allow_float or name in left:
                raise Unquantizable.of(name, reason) from exc
            left[name] = reason


def _scheme(keep_zeros: bool, keep_clusters: bool, per_channel: bool) -> Any:
    """tfmot's 8-bit scheme keeping zeros and clusters as asked; None for its default."""
    combine = _compat.tfmot_combine()
    name = scheme_name(keep_zeros, keep_clusters)
    if name == "QAT":
        return None if per_channel else (
            _compat.tfmot_quantization().default_8bit.Default8BitQuantizeScheme(
                disable_per_axis=True))
    scheme = (combine.Default8BitPrunePreserveQuantizeScheme() if name == "PQAT"
              else combine.Default8BitClusterPreserveQuantizeScheme(keep_zeros))
    return scheme if per_channel else _compat.tfmot_per_tensor(scheme)


def _apply(model: Any, scheme: Any, left_float: set[str], per_channel: bool) -> Any:
    """`model` annotated layer by layer (not those `left_float`) and made quantization-aware
    with `scheme` (None: tfmot's default); not `per_channel`, clusters are kept per tensor."""
    quantization = _compat.tfmot_quantization()

    def annotate(layer: Any) -> Any:
        if layer.name in left_float or type(layer).__name__ == "InputLayer":
            return layer
        return quantization.quantize_annotate_layer(layer)

    annotated = _compat.keras().models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    per_tensor = contextlib.nullcontext() if per_channel else _compat.tfmot_centroids_per_tensor()
    with quantization.quantize_scope(), per_tensor:
        if scheme is None:
            return quantization.quantize_apply(annotated)
        return quantization.quantize_apply(annotated, scheme)


def has_qat_wrappers(model: Any) -> bool:
    return facts.has_wrappers(model, facts.QUANTIZATION)


def float_twin(trained: Any, original: Any, keep_zeros: bool) -> Any:
    """A copy of `original` (the model before quantization-aware training) holding the float
    weights `trained` computes with before fake-quantizing them: the model to hand back (the
    ranges live in the .tflite). Where tfmot keeps clusters, a weight is its centroid; where
    it keeps zeros (`keep_zeros`), the zeros of `original` are applied, as its masks do."""
    wrappers = {getattr(layer, "layer", layer).name: layer for layer in trained.layers}
    twin = facts.clone(original)
    for layer in twin.layers:
        source = wrappers.get(layer.name)
        if not layer.weights or source is None:
            continue
        found = {_short(v.name): v.numpy() for v in source.weights}
        values = []
        for weight in layer.weights:
            value = found[_short(weight.name)]
            if _short(weight.name) in ("kernel", "depthwise_kernel"):
                if "cluster_centroids_tf" in found:
                    value = _centroid_values(found["cluster_centroids_tf"],
                                             found["pulling_indices_tf"])
                if keep_zeros:
                    value = np.where(weight.numpy() == 0, 0, value).astype(value.dtype)
            values.append(value)
        layer.set_weights(values)
    return twin


def _short(name: str) -> str:
    """'quant_conv2d/cluster_centroids_tf:0' -> 'cluster_centroids_tf'."""
    return name.rpartition("/")[2].partition(":")[0]


def _centroid_values(centroids: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Each weight's centroid: per tensor (1-D centroids), or per output channel (one row of
    centroids per channel, the last axis of the kernel)."""
    if centroids.ndim == 1:
        return centroids[indices]
    return centroids.T[indices, np.arange(indices.shape[-1])]


def kernels(model: Any) -> dict[str, np.ndarray]:
    """Each layer's kernel (what tfmot's schemes keep zeros and clusters in), by layer."""
    found = {}
    for layer in model.layers:
        for name in ("kernel", "depthwise_kernel"):
            if hasattr(layer, name):
                found[layer.name] = np.asarray(getattr(layer, name).numpy())
    return found


def already(kernels: dict[str, np.ndarray]) -> tuple[bool, bool]:
    """(zeros, clusters): whether an earlier stage left zeros (a kernel >= 5% exact zeros)
    or clusters (a kernel taking at most 256 values, and at most a quarter as many values as
    it has weights: trained float weights are all different) to keep."""
    found = kernels.values()
    zeros = any(np.mean(k == 0) >= 0.05 for k in found)
    clusters = any(len(np.unique(k)) <= min(256, k.size // 4) for k in found)
    return zeros, clusters
