"""The tf_keras engine: tf_keras models, pruned by tfmot's wrappers (the seed's method; Keras 3
graphs arrive here translated, `from_keras3`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import _compat
from ..sparsity.schedules import Schedule
from . import clustering, files, qat
from . import model as facts
from .holding import hold_zeros


class TfKerasEngine:
    """What the stages do to a model, done to a tf_keras model (`keras3.engine` says the same
    for Keras 3)."""

    name = "tf_keras"

    @staticmethod
    def keras() -> Any:
        return _compat.keras()

    clone = staticmethod(facts.clone)
    input_shape = staticmethod(facts.input_shape)
    output_units = staticmethod(facts.output_units)
    outputs_probabilities = staticmethod(facts.outputs_probabilities)
    prunable_weights = staticmethod(facts.prunable_weights)
    clusterable_weights = staticmethod(clustering.clusterable_weights)
    per_channel_applies = staticmethod(clustering.per_channel_applies)
    load_own = staticmethod(files.load_own)
    float_twin = staticmethod(qat.float_twin)
    kernels = staticmethod(qat.kernels)

    @staticmethod
    def reseeders(model: Any) -> list[Callable[[int], None]]:
        """One function per random layer's generator (dropout, noise), in layer order, that
        restarts it from a seed."""
        return [generator.reset_from_seed for generator in _compat.random_generators(model)]

    @staticmethod
    def layers(model: Any) -> list[Any]:
        return list(model.layers)

    @staticmethod
    def prune(model: Any, chosen: set[str], schedule: Schedule, options: dict[str, Any],
              held: dict[str, float]) -> tuple[Any, None]:
        """A copy of `model` whose chosen layers are wrapped by tfmot's
        `prune_low_magnitude` (the wrappers hold the masks), the `held` ones too, their masks
        set once to the zeros they have."""
        sparsity = _compat.tfmot_sparsity()
        params = {"pruning_schedule": schedule.to_tfmot(sparsity), **options}

        def wrap(layer: Any) -> Any:
            if layer.name in chosen:
                return sparsity.prune_low_magnitude(layer, **params)
            if layer.name in held:
                return hold_zeros(layer, held[layer.name])
            return layer

        return _compat.keras().models.clone_model(model, clone_function=wrap), None

    @staticmethod
    def cluster(model: Any, chosen: set[str], spec: clustering.Clustering,
                held: dict[str, float], seed: int) -> tuple[Any, None]:
        """A copy of `model` with tfmot's clustering wrappers (and zeros held by pruning
        wrappers); the wrappers keep the centroids."""
        return clustering.cluster(model, chosen, spec, held), None

    @staticmethod
    def clustered(model: Any, masks: None) -> dict[str, tuple[int, bool]]:
        return clustering.clustered(model)

    @staticmethod
    def pruning_callbacks(model: Any, masks: None, summaries: Path | None) -> list[Any]:
        """tfmot's `UpdatePruningStep` (and `PruningSummaries` into `summaries`) while the
        model has pruning wrappers."""
        if not facts.has_pruning_wrappers(model):
            return []
        sparsity = _compat.tfmot_sparsity()
        callbacks = [sparsity.UpdatePruningStep()]
        if summaries is not None:
            callbacks.append(sparsity.PruningSummaries(log_dir=str(summaries)))
        return callbacks

    @staticmethod
    def strip(model: Any, masks: None) -> Any:
        """tfmot's `strip_pruning` and `strip_clustering`: plain layers, the zeros and the
        centroids' values in place."""
        if facts.has_pruning_wrappers(model):
            model = _compat.tfmot_sparsity().strip_pruning(model)
        if clustering.has_clustering_wrappers(model):
            model = clustering.strip(model)
        return model

    @staticmethod
    def quantize_aware(model: Any, keep_zeros: bool, keep_clusters: bool, allow_float: bool,
                       per_channel: bool) -> tuple[Any, dict[str, str], list[Any]]:
        """A copy of `model` with tfmot's quantization wrappers, in the scheme that keeps the
        zeros and clusters asked (its wrappers keep them: no callbacks), and the layers left
        in float with why."""
        wrapped, left_float = qat.quantize(model, keep_zeros, keep_clusters, allow_float,
                                           per_channel)
        return wrapped, left_float, []

    @staticmethod
    def reads_back(model: Any) -> bool:
        """False while tfmot's clustering or quantization-aware wrappers are on the model:
        loaded, they have other centroids and pointers and no zero masks, or do not load."""
        return not (clustering.has_clustering_wrappers(model) or qat.has_qat_wrappers(model))

    @staticmethod
    def load_masks(path: Path, model: Any) -> None:
        raise NotImplementedError("tfmot's masks live in its wrappers, saved with the model")

    def save_plain(self, model: Any, path: Path) -> None:
        """`model` as plain layers, without optimizer (.h5: as tfmot's guides measure it)."""
        with warnings.catch_warnings():  # "HDF5 is legacy": it is what tfmot measures
            warnings.simplefilter("ignore")
            _compat.keras().models.save_model(self.strip(model, None), path,
                                              include_optimizer=False)
