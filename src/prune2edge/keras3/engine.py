"""The Keras 3 engine: a build's model stays the Keras 3 model the user gave (functional,
Sequential or subclassed); pruning masks its variables (`masking`), nothing wraps its layers."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..errors import ModelError
from ..sparsity.schedules import Schedule
from .clustering import KIND, PER_CHANNEL_TYPES, Clusters, follow, saved_kind
from .fake_quant import applied, fake_quantize, unquantizable
from .keeping import Kept, keep
from .masking import (
    Masks,
    Rule,
    every_layer,
    hold,
    layers_with_weights,
    pruned_variables,
    pruning_summaries,
)

ONE_BATCH = 8  # samples the output is looked at on, where the model's layers do not say


class Keras3Engine:
    """What the stages do to a model, done to a Keras 3 model (`keras.engine` says the same for
    tf_keras). It knows the classes of `model` that are not Keras' own (the user's layers and
    models), so that the build reads back what it saved (checkpoints)."""

    name = "keras3"

    def __init__(self, model: Any):
        keras = self.keras()
        layers = every_layer(model)
        self.names = [layer.name for layer in layers]  # kept through copies and checkpoints
        self.custom_objects = {
            type(layer).__name__: type(layer) for layer in layers
            if type(layer) not in (getattr(keras.layers, type(layer).__name__, None),
                                   getattr(keras, type(layer).__name__, None))}

    @staticmethod
    def keras() -> Any:
        return _compat.keras3_engine()

    def clone(self, model: Any) -> Any:
        """An independent copy: architecture, weights and layer names (a subclassed model's
        copy makes new layers, named anew), no optimizer."""
        keras = self.keras()
        copy = (keras.models.clone_model(model) if _compat.keras3_is_graph(model)
                else type(model).from_config(model.get_config()))  # not compiled, as clones are
        if len(copy.weights) != len(model.weights):  # a subclassed model's, not yet called
            copy(np.zeros((1, *self.input_shape(model)), "float32"), training=False)
        _name_layers(copy, [layer.name for layer in every_layer(model)])
        copy.set_weights(model.get_weights())
        return copy

    @staticmethod
    def input_shape(model: Any) -> tuple[int, ...]:
        """The single input shape without the batch axis, from the model's inputs or, for a
        subclassed model, from the shape it was built with."""
        shape = _compat.keras3_input_shape(model)
        if shape is None:
            raise ModelError("the subclassed model was never built, so its input shape is "
                             "unknown", model.name, "call it once on a batch (or model.build("
                             "(None, *shape))) before returning it")
        if isinstance(shape, list):
            raise ModelError(f"the model has {len(shape)} inputs", model.name,
                             "prune2edge handles single-input classifiers")
        if any(d is None for d in shape[1:]):
            raise ModelError(f"the model's input shape {tuple(shape)} is not fully defined",
                             model.name, "give the Input layer a fixed shape")
        return tuple(int(d) for d in shape[1:])

    def output_units(self, model: Any) -> int:
        shape = self._outputs(model).shape
        if len(shape) != 2 or shape[1] < 2:
            raise ModelError(f"the model's output shape is {(None, *shape[1:])}", model.name,
                             "prune2edge handles classifiers with one output of >= 2 units")
        return int(shape[1])

    def outputs_probabilities(self, model: Any) -> bool:
        """Whether the outputs are probabilities (softmax): rows of non-negative numbers
        that sum to 1 on random inputs, whatever the model's code."""
        outputs = self._outputs(model)
        return bool(np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4))

    def _outputs(self, model: Any) -> np.ndarray:
        shape = (ONE_BATCH, *self.input_shape(model))
        sample = np.random.default_rng(0).uniform(0, 1, shape).astype("float32")
        outputs = model(sample, training=False)
        if isinstance(outputs, (list, tuple, dict)):
            raise ModelError(f"the model has {len(outputs)} outputs", model.name,
                             "prune2edge handles classifiers with one output")
        return np.asarray(outputs)

    @staticmethod
    def reseeders(model: Any) -> list[Callable[[int], None]]:
        """One function per random layer's seed state (dropout, noise), in model order, that
        restarts it from a seed."""
        def restart(state: Any) -> Callable[[int], None]:
            return lambda value: state.assign(np.array([value, 0], "uint32"))

        return [restart(state) for state in _compat.keras3_seed_states(model)]

    @staticmethod
    def layers(model: Any) -> list[Any]:
        """The layers pruning may choose from: those holding weights, found inside nested
        models and a subclass's blocks."""
        return list(layers_with_weights(model))

    @staticmethod
    def prunable_weights(layer: Any) -> list[Any] | None:
        return pruned_variables(layer)

    def prune(self, model: Any, chosen: set[str], schedule: Schedule,
              options: dict[str, Any], held: dict[str, float]) -> tuple[Any, Masks]:
        """`model` itself, and masks on its chosen layers' pruned variables (and, holding
        their zeros, on the `held` layers')."""
        return model, Masks([v for _, v in self._variables(model, chosen)],
                            Rule(schedule, **options),
                            [v for _, v in self._variables(model, held)])

    def _variables(self, model: Any, names: Iterable[str]) -> list[tuple[Any, Any]]:
        """(layer, variable) for each variable pruning (or clustering) would change in the
        named layers of `model`."""
        wanted = set(names)
        return [(layer, v) for layer in self.layers(model) if layer.name in wanted
                for v in pruned_variables(layer) or ()]

    @staticmethod
    def clusterable_weights(layer: Any) -> list[Any] | None:
        return pruned_variables(layer)  # tfmot clusters the weights it prunes

    @staticmethod
    def per_channel_applies(layer: Any) -> bool:
        return type(layer).__name__ in PER_CHANNEL_TYPES

    def cluster(self, model: Any, chosen: set[str], spec: Any, held: dict[str, float],
                seed: int) -> tuple[Any, Clusters]:
        """`model` itself, and centroids on its chosen layers' variables (`spec` is
        `keras.clustering.Clustering`); the `held` layers keep their zeros."""
        variables = {v.path: (v, spec.per_channel and self.per_channel_applies(layer))
                     for layer, v in self._variables(model, chosen)}
        return model, Clusters(variables, spec.clusters, spec.init, spec.preserve_sparsity,
                               seed, [v for _, v in self._variables(model, held)])

    @staticmethod
    def clustered(model: Any, masks: Masks | Clusters | None) -> dict[str, tuple[int, bool]]:
        return masks.clustered(model) if isinstance(masks, Clusters) else {}

    @staticmethod
    def pruning_callbacks(model: Any, masks: Masks | Clusters | None,
                          summaries: Path | None) -> list[Any]:
        """`hold(masks)` while the model is pruned (and TensorBoard logs into `summaries`),
        `follow(clusters)` while it is clustered."""
        if masks is None:
            return []
        if isinstance(masks, Clusters):
            return [follow(masks)]
        return [hold(masks), *(pruning_summaries(masks, summaries) if summaries else ())]

    def quantize_aware(self, model: Any, keep_zeros: bool, keep_clusters: bool,
                       allow_float: bool, per_channel: bool
                       ) -> tuple[Any, dict[str, str], list[Any]]:
        """A copy of `model` whose layers' calls fake int8 (`fake_quant`), the layers left in
        float with why (`allow_float`; else `Unquantizable`), and the callbacks that keep its
        kernels' zeros and shared values while it trains (`keeping`)."""
        copy = self.clone(model)
        left_float = unquantizable(copy) if allow_float else {}
        fake_quantize(copy, set(left_float), per_channel)
        kept = Kept([v for _, v in self._kernels(copy)], keep_zeros, keep_clusters)
        return copy, left_float, [keep(kept)] if keep_zeros or keep_clusters else []

    def float_twin(self, trained: Any, original: Any, keep_zeros: bool) -> Any:
        """The trained weights in a plain copy (they are the float weights: kept zeros and
        clusters are in them)."""
        return self.clone(trained)

    def kernels(self, model: Any) -> dict[str, np.ndarray]:
        """Each layer's kernel, by layer (what quantization-aware training keeps zeros and
        clusters in)."""
        return {layer.name: np.asarray(v.numpy()) for layer, v in self._kernels(model)}

    def _kernels(self, model: Any) -> list[tuple[Any, Any]]:
        return [(layer, v) for layer in self.layers(model) for v in layer.weights
                if v.name == "kernel"]

    @staticmethod
    def strip(model: Any, masks: Masks | Clusters | None) -> Any:
        """The model with its masks applied for good (it has no wrappers to remove)."""
        if masks is not None:
            masks.apply()
        return model

    def save_plain(self, model: Any, path: Path) -> None:
        """`model` saved uncompiled (.keras or .h5 by the suffix): what a user gets back."""
        plain = self.clone(model)
        with warnings.catch_warnings():  # "HDF5 is legacy": it is what sizes are measured by
            warnings.simplefilter("ignore")
            self.keras().saving.save_model(plain, path)

    @staticmethod
    def load_masks(path: Path, model: Any) -> Masks | Clusters:
        return (Clusters.load if saved_kind(path) == KIND else Masks.load)(path, model)

    @staticmethod
    def reads_back(model: Any) -> bool:
        """True (masks and centroids are saved beside the model) but while its calls fake
        int8: the changed calls and their ranges are not saved."""
        return not applied(model)

    def load_own(self, path: Path) -> Any:
        """A .keras file this build wrote (a checkpoint), optimizer state included, its layers
        named as the build's (a subclassed model's layers are named anew when made)."""
        model = self.keras().saving.load_model(path, safe_mode=False,
                                               custom_objects=self.custom_objects)
        _name_layers(model, self.names)
        return model


def _name_layers(model: Any, names: list[str]) -> None:
    """Give `model`'s layers, in `every_layer` order, these names: a subclassed model's layers
    are named anew whenever it is made (copied, or read back), the same architecture's in the
    same order."""
    for layer, name in zip(every_layer(model), names, strict=True):
        layer.name = name
