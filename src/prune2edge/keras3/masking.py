"""Magnitude pruning of Keras 3 models without tfmot: a mask per pruned variable, set by the
schedule and held through training by a callback.

What tfmot's wrapper does inside the graph is done here between batches, in the same order:
the step counts the training batches from 1; at a pruning turn each mask is recomputed from
the variable as the optimizer left it; before every batch, and after every epoch, each
variable becomes variable * mask. Masks live beside the model, not in it, so any Keras 3
model (functional, Sequential or subclassed) is pruned as it is and stays plain: stripping
is dropping the masks.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..params import from_mapping, to_mapping
from ..sparsity.masks import Pooling, block_mask, m_by_n_mask
from ..sparsity.schedules import Schedule

# The weights tfmot 0.8.1 prunes in each layer type (its `PruneRegistry`), by Keras 3 name;
# a recurrent layer's are its cell's, MultiHeadAttention's its projections' kernels.
PRUNED_WEIGHTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
                     "Conv2DTranspose", "Conv3DTranspose", "MultiHeadAttention"),
                    frozenset({"kernel"})),
    **dict.fromkeys(("SeparableConv1D", "SeparableConv2D"), frozenset({"pointwise_kernel"})),
    "Embedding": frozenset({"embeddings"}),
    **dict.fromkeys(("LSTM", "GRU", "SimpleRNN"), frozenset({"kernel", "recurrent_kernel"})),
}


def every_layer(layer: Any) -> list[Any]:
    """`layer` and every layer in it, at any depth, parents before their layers."""
    return [layer, *(inner for sub in _compat.keras3_sublayers(layer)
                     for inner in every_layer(sub))]


def layers_with_weights(model: Any) -> Iterator[Any]:
    """Every layer of `model` that holds weights of its own, in order: the layers of the
    types tfmot knows whole, other layers' sublayers (nested models, a subclass's blocks)
    searched."""
    for layer in _compat.keras3_sublayers(model):
        whole = type(layer).__name__ in PRUNED_WEIGHTS
        if not whole and _compat.keras3_sublayers(layer):
            yield from layers_with_weights(layer)
        elif layer.weights:
            yield layer


def pruned_variables(layer: Any) -> list[Any] | None:
    """The variables of `layer` magnitude pruning masks, None for a type tfmot cannot prune."""
    names = PRUNED_WEIGHTS.get(type(layer).__name__)
    if names is None:
        return None
    return [w for w in layer.weights if w.name in names]


@dataclass(frozen=True)
class Rule:
    """How a mask is set: the schedule, and blocks or an m-by-n pattern (tfmot's options)."""

    schedule: Schedule  # with end_step resolved to a step count
    block_size: tuple[int, int] = (1, 1)
    block_pooling_type: Pooling = "AVG"
    sparsity_m_by_n: tuple[int, int] | None = None

    def turn(self, step: int) -> bool:
        """Whether masks are recomputed at training step `step` (m-by-n: once, at step 1)."""
        return step == 1 if self.sparsity_m_by_n else self.schedule.prunes_at(step)

    def mask(self, weights: np.ndarray, step: int) -> np.ndarray:
        if self.sparsity_m_by_n:
            return m_by_n_mask(weights, *self.sparsity_m_by_n)
        return block_mask(weights, float(self.schedule.sparsity_at(step)), self.block_size,
                          self.block_pooling_type)


class Masks:
    """The masks of a model's pruned variables, keyed by variable path, and the step. The
    `held` variables (an earlier prune's, not pruned now) keep exactly the zeros they have."""

    def __init__(self, variables: list[Any], rule: Rule, held: list[Any] | tuple[()] = ()):
        self.variables = {v.path: v for v in [*variables, *held]}
        self.rule = rule
        self.step = 0
        self.held = {v.path for v in held}
        self.masks = {path: (v.numpy() != 0).astype(v.dtype) if path in self.held
                      else np.ones(v.shape, v.dtype) for path, v in self.variables.items()}
        self._tensors: dict[str, Any] = {}

    def advance(self) -> None:
        """One training batch on: recompute the masks at a pruning turn, then mask."""
        self.step += 1
        if self.rule.turn(self.step):
            self.masks = {path: mask if path in self.held
                          else self.rule.mask(self.variables[path].numpy(), self.step)
                          for path, mask in self.masks.items()}
            self._tensors = {}
        self.apply()

    def apply(self) -> None:
        """variable = variable * mask, for every pruned variable."""
        ops = _compat.keras3_engine().ops
        for path, variable in self.variables.items():
            if path not in self._tensors:
                self._tensors[path] = ops.convert_to_tensor(self.masks[path])
            variable.assign(ops.multiply(variable, self._tensors[path]))

    def sparsity(self) -> dict[str, float]:
        """The share of zeros each mask sets, by variable path."""
        return {path: float(1.0 - mask.mean()) for path, mask in self.masks.items()}

    def save(self, path: Path, model: Any) -> None:
        """The masks, the step and the rule in one .npz file; the variables are named by
        their place in `model.weights` (layer names change when a model is loaded again)."""
        places = {id(w): i for i, w in enumerate(model.weights)}
        about = {"step": self.step, "rule": to_mapping(self.rule),
                 "places": [places[id(v)] for v in self.variables.values()],
                 "held": [i for i, path in enumerate(self.variables) if path in self.held]}
        arrays: dict[str, Any] = {f"mask{i}": mask for i, mask in enumerate(self.masks.values())}
        buffer = io.BytesIO()
        np.savez(buffer, about=np.array(json.dumps(about)), **arrays)
        Path(path).write_bytes(buffer.getvalue())

    def move(self, model: Any, copy: Any) -> None:
        """Mask the same variables of `copy` (`model` saved and loaded again, e.g. into a
        distribution strategy) from now on, found by their place in `model.weights`."""
        places = {id(w): i for i, w in enumerate(model.weights)}
        moved = [copy.weights[places[id(v)]] for v in self.variables.values()]
        self.held = {v.path for v, path in zip(moved, self.variables, strict=True)
                     if path in self.held}
        self.masks = {v.path: mask for v, mask in zip(moved, self.masks.values(), strict=True)}
        self.variables = {v.path: v for v in moved}
        self._tensors = {}

    @classmethod
    def load(cls, path: Path, model: Any) -> Masks:
        """The masks `save` wrote, on the same variables of `model` (a copy of that model)."""
        with np.load(path) as saved:
            about = json.loads(str(saved["about"]))
            arrays = [saved[f"mask{i}"] for i in range(len(about["places"]))]
        weights = model.weights
        masks = cls([weights[i] for i in about["places"]],
                    from_mapping(Rule, about["rule"], "checkpoint masks"))
        masks.step = about["step"]
        masks.masks = dict(zip(masks.variables, arrays, strict=True))
        held = about.get("held", [])
        masks.held = {path for i, path in enumerate(masks.variables) if i in held}
        return masks


def hold(masks: Masks) -> Any:
    """A Keras 3 callback that keeps `masks` on the model while it trains (tfmot's wrapper
    and `UpdatePruningStep` in one)."""
    keras = _compat.keras3_engine()

    class HoldMasks(keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            masks.advance()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            masks.apply()

    return HoldMasks()


def pruning_summaries(masks: Masks, log_dir: Path) -> list[Any]:
    """TensorBoard logs into `log_dir` as tfmot's `PruningSummaries` writes them: Keras' own
    (loss, metrics), and at each epoch's start every pruned variable's sparsity at the
    training step, under metrics/ as "<variable path>/sparsity"."""
    keras, tf = _compat.keras3_engine(), _compat.tf()
    writer = tf.summary.create_file_writer(str(log_dir / "metrics"))

    class PruningSummaries(keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            with writer.as_default():
                for path, sparsity in masks.sparsity().items():
                    tf.summary.scalar(f"{path}/sparsity", sparsity, step=masks.step)
            writer.flush()

    return [keras.callbacks.TensorBoard(log_dir=str(log_dir)), PruningSummaries()]
