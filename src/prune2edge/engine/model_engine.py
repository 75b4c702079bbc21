"""The model engine: what stages do to a model, said once per Keras. `[model] engine` chooses
it: `tf_keras` (tfmot's wrappers; Keras 3 graphs translated) or `keras3` (the model as it is,
its variables masked)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..keras import distill
from ..keras.engine import TfKerasEngine
from ..keras3.engine import Keras3Engine
from ..sparsity.schedules import Schedule


class ModelEngine(Protocol):
    name: str  # "tf_keras" or "keras3"

    def keras(self) -> Any:
        """The Keras module the model is made of (optimizers, losses, callbacks)."""

    def clone(self, model: Any) -> Any:
        """An independent copy, weights included, uncompiled."""

    def input_shape(self, model: Any) -> tuple[int, ...]: ...

    def output_units(self, model: Any) -> int: ...

    def outputs_probabilities(self, model: Any) -> bool: ...

    def reseeders(self, model: Any) -> list[Callable[[int], None]]:
        """Per random layer, a function restarting its random state from a seed."""

    def layers(self, model: Any) -> list[Any]:
        """The layers pruning chooses from."""

    def prunable_weights(self, layer: Any) -> list[Any] | None:
        """The weights magnitude pruning masks; None for a layer type it cannot prune."""

    def prune(self, model: Any, chosen: set[str], schedule: Schedule,
              options: dict[str, Any], held: dict[str, float]) -> tuple[Any, Any]:
        """(a copy of `model` pruned in the chosen layers, its masks if kept beside it); the
        `held` layers (name: share of zeros) keep exactly the zeros they have."""

    def clusterable_weights(self, layer: Any) -> list[Any] | None:
        """The weights clustering shares values in; None for a layer type it cannot cluster."""

    def per_channel_applies(self, layer: Any) -> bool:
        """Whether `layer` is clustered channel by channel when asked (Conv2D, as tfmot)."""

    def cluster(self, model: Any, chosen: set[str], spec: Any, held: dict[str, float],
                seed: int) -> tuple[Any, Any]:
        """(`model` clustered in the chosen layers as `spec` asks, the centroids if kept
        beside it); the `held` layers keep exactly the zeros they have."""

    def clustered(self, model: Any, masks: Any) -> dict[str, tuple[int, bool]]:
        """Each clustered layer: (clusters, per channel), by layer name."""

    def pruning_callbacks(self, model: Any, masks: Any, summaries: Path | None) -> list[Any]:
        """The training callbacks that advance and hold the masks (or the centroids)."""

    def quantize_aware(self, model: Any, keep_zeros: bool, keep_clusters: bool,
                       allow_float: bool, per_channel: bool
                       ) -> tuple[Any, dict[str, str], list[Any]]:
        """(a copy of `model` that fakes int8 as it trains, convolution kernels per output
        channel or per tensor, the layers left in float with why, the training callbacks
        keeping the kernels' zeros and clusters if asked); `errors.Unquantizable` for a
        layer it cannot fake, unless `allow_float`."""

    def float_twin(self, trained: Any, original: Any, keep_zeros: bool) -> Any:
        """A plain copy of `original` holding the float weights `trained` computes with."""

    def kernels(self, model: Any) -> dict[str, np.ndarray]:
        """Each layer's kernel, by layer name."""

    def strip(self, model: Any, masks: Any) -> Any:
        """The model as plain layers, the zeros kept."""

    def save_plain(self, model: Any, path: Path) -> None:
        """The stripped model saved without optimizer (.keras or .h5 by the suffix)."""

    def load_own(self, path: Path) -> Any:
        """A .keras file this build wrote, optimizer state included."""

    def reads_back(self, model: Any) -> bool:
        """Whether `model`, saved and loaded (`load_own`), is the same model again."""

    def load_masks(self, path: Path, model: Any) -> Any:
        """The masks a checkpoint saved beside `model` (engines that keep masks so)."""


def zeros_to_hold(engine: ModelEngine, model: Any, chosen: set[str]) -> dict[str, float]:
    """The layers not `chosen` whose prunable weights hold zeros (an earlier prune's), with
    their share of zeros: a mask keeps those zeros while the chosen layers are trained."""
    held = {}
    for layer in engine.layers(model):
        weights = [np.asarray(w.numpy()) for w in engine.prunable_weights(layer) or ()]
        total = sum(w.size for w in weights)
        zeros = sum(int(np.count_nonzero(w == 0)) for w in weights)
        if layer.name not in chosen and zeros:
            held[layer.name] = zeros / total
    return held


def reloaded(engine: ModelEngine, model: Any, path: Path, masks: Any, scope: Any = None) -> Any:
    """`model` saved to `path` (removed after) and read back by `engine` within `scope` (a
    distribution strategy's, so that its variables and optimizer state live there; or none);
    the `masks` an engine keeps beside it move onto the copy's variables."""
    model.save(path)
    try:
        with scope or contextlib.nullcontext():
            copy = engine.load_own(path)
    finally:
        path.unlink()
    if masks is not None:
        masks.move(model, copy)
    return copy


def engine_for(name: str, model: Any = None) -> ModelEngine:
    """The engine `name` ("tf_keras" or "keras3") names, for `model`."""
    if name != "keras3":
        return TfKerasEngine()
    distill.register(Keras3Engine.keras())  # checkpoints of a distilling fine-tune load
    return Keras3Engine(model)
