"""Weight clustering of Keras 3 models without tfmot: centroids kept beside the model, as the
pruning masks are (`masking`), so any Keras 3 model is clustered as it is and stays plain.

tfmot's wrapper trains its centroids through the clustered weights and points every weight at
its nearest centroid. Here, between batches: each clustered variable keeps latent weights; the
optimizer's step on the variable (which holds the clustered values) is added to them (the
straight-through estimator tfmot uses too); each centroid becomes the mean of the latent
weights nearest to it; and the variable is set to each weight's nearest centroid. Zeros stay
zero where sparsity is preserved (one centroid of the count is zero's), and a Conv2D kernel
clustered per channel has centroids per output channel."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import _compat
from ..sparsity.distinct import channels
from .masking import layers_with_weights

KIND = "clusters"
PER_CHANNEL_TYPES = ("Conv2D",)  # tfmot clusters these channel by channel when asked


def initial_centroids(values: np.ndarray, count: int, init: str,
                      rng: np.random.Generator) -> np.ndarray:
    """`count` sorted starting centroids for `values`: evenly spaced between the smallest and
    the largest (`linear`), at evenly spaced quantiles (`density`), or chosen by k-means++
    (each next one drawn with probability by its squared distance to the nearest so far)."""
    values = values.astype(np.float64).ravel()
    if init == "linear":
        return np.linspace(values.min(), values.max(), count)
    if init == "density":
        return np.quantile(values, (np.arange(count) + 0.5) / count)
    chosen = [values[rng.integers(values.size)]]
    for _ in range(count - 1):
        distance = np.min((values[:, None] - np.array(chosen)[None, :]) ** 2, axis=1)
        total = distance.sum()
        chosen.append(values[rng.choice(values.size, p=distance / total)] if total > 0
                      else values[rng.integers(values.size)])
    return np.sort(np.array(chosen))


def _nearest(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The index of each value's nearest centroid (the lower one on a tie), found among the
    midpoints of the sorted centroids: N log k, not N x k."""
    order = np.argsort(centroids, kind="stable")
    ranked = centroids[order]
    return order[np.searchsorted((ranked[1:] + ranked[:-1]) / 2, values)]


class Clusters:
    """The clustered variables of a model (keyed by variable path): latent weights, centroids
    per tensor or per channel, and the zeros kept; the `held` variables (other layers') keep
    exactly the zeros they have."""

    def __init__(self, variables: dict[str, tuple[Any, bool]], clusters: int, init: str,
                 preserve_sparsity: bool, seed: int, held: list[Any] | tuple[()] = ()):
        self.variables = {path: v for path, (v, _) in variables.items()}
        self.per_channel = {path for path, (_, per) in variables.items() if per}
        self.clusters, self.preserve_sparsity = clusters, preserve_sparsity
        self.held = {v.path: v for v in held}
        self.held_masks = {v.path: (np.asarray(v.numpy()) != 0).astype(v.dtype) for v in held}
        rng = np.random.default_rng(seed)
        self.latent = {path: np.array(v.numpy()) for path, v in self.variables.items()}
        self.keep = {path: (w != 0) if preserve_sparsity else np.ones(w.shape, bool)
                     for path, w in self.latent.items()}
        self.centroids = {path: [initial_centroids(values[kept], self._count(path), init, rng)
                                 for values, kept in self._slices(path)]
                          for path in self.variables}
        self.snapped: dict[str, np.ndarray] = {}
        self.apply()

    def _count(self, path: str) -> int:
        """The centroids a slice of the variable gets: one fewer where zeros are kept (zero is
        the other)."""
        return self.clusters - 1 if not self.keep[path].all() else self.clusters

    def _axis(self, path: str) -> int | None:
        return -1 if path in self.per_channel else None

    def _slices(self, path: str) -> list[tuple[np.ndarray, np.ndarray]]:
        axis = self._axis(path)
        return list(zip(channels(self.latent[path], axis), channels(self.keep[path], axis),
                        strict=True))

    def _clustered(self, path: str) -> np.ndarray:
        """Each kept latent weight's nearest centroid, the others zero."""
        out = np.zeros_like(self.latent[path])
        for target, centroids, (values, kept) in zip(channels(out, self._axis(path)),
                                                     self.centroids[path], self._slices(path),
                                                     strict=True):
            target[kept] = centroids[_nearest(values[kept], centroids)]
        return out

    def apply(self) -> None:
        """Every clustered variable set to its clustered values (and the held zeros held)."""
        for path, variable in self.variables.items():
            self.snapped[path] = self._clustered(path)
            variable.assign(self.snapped[path])
        for path, variable in self.held.items():
            variable.assign(np.asarray(variable.numpy()) * self.held_masks[path])

    def advance(self) -> None:
        """After a training batch: the optimizer's step goes to the latent weights, each
        centroid moves to the mean of its latent weights, and the variables are clustered
        again."""
        for path, variable in self.variables.items():
            self.latent[path] += np.asarray(variable.numpy()) - self.snapped[path]
            for centroids, (values, kept) in zip(self.centroids[path], self._slices(path),
                                                 strict=True):
                members = values[kept]
                nearest = _nearest(members, centroids)
                counts = np.bincount(nearest, minlength=centroids.size)
                sums = np.bincount(nearest, weights=members, minlength=centroids.size)
                filled = counts > 0
                centroids[filled] = sums[filled] / counts[filled]
        self.apply()

    def clustered(self, model: Any) -> dict[str, tuple[int, bool]]:
        """Each clustered layer of `model`: (clusters, per channel), by layer name."""
        found = {}
        for layer in layers_with_weights(model):
            for weight in layer.weights:
                if weight.path in self.variables:
                    found[layer.name] = (self.clusters, weight.path in self.per_channel)
        return found

    def save(self, path: Path, model: Any) -> None:
        """Latent weights, centroids, zeros kept and held masks in one .npz, the variables
        named by their place in `model.weights` (layer names change when a model loads)."""
        places = {id(w): i for i, w in enumerate(model.weights)}
        about = {"kind": KIND, "clusters": self.clusters,
                 "preserve_sparsity": self.preserve_sparsity,
                 "places": [places[id(v)] for v in self.variables.values()],
                 "per_channel": [p in self.per_channel for p in self.variables],
                 "held": [places[id(v)] for v in self.held.values()]}
        arrays: dict[str, Any] = {}
        for i, key in enumerate(self.variables):
            arrays[f"latent{i}"], arrays[f"keep{i}"] = self.latent[key], self.keep[key]
            arrays[f"centroids{i}"] = np.stack(self.centroids[key])
        for i, key in enumerate(self.held):
            arrays[f"held{i}"] = self.held_masks[key]
        buffer = io.BytesIO()
        np.savez(buffer, about=np.array(json.dumps(about)), **arrays)
        Path(path).write_bytes(buffer.getvalue())

    def move(self, model: Any, copy: Any) -> None:
        """Cluster the same variables of `copy` (`model` saved and loaded again)."""
        places = {id(w): i for i, w in enumerate(model.weights)}
        paths = {key: copy.weights[places[id(v)]]
                 for key, v in [*self.variables.items(), *self.held.items()]}
        for name in ("latent", "keep", "centroids", "snapped", "held_masks"):
            setattr(self, name, {paths[k].path: v for k, v in getattr(self, name).items()})
        self.per_channel = {paths[k].path for k in self.per_channel}
        self.variables = {paths[k].path: paths[k] for k in self.variables}
        self.held = {paths[k].path: paths[k] for k in self.held}

    @classmethod
    def load(cls, path: Path, model: Any) -> Clusters:
        """The clusters `save` wrote, on the same variables of `model` (a copy of that
        model), the variables set to their clustered values."""
        with np.load(path) as saved:
            about = json.loads(str(saved["about"]))
            arrays = {name: saved[name] for name in saved.files if name != "about"}
        variables = [model.weights[i] for i in about["places"]]
        held = [model.weights[i] for i in about["held"]]
        clusters = cls.__new__(cls)
        clusters.clusters = about["clusters"]
        clusters.preserve_sparsity = about["preserve_sparsity"]
        clusters.variables = {v.path: v for v in variables}
        clusters.per_channel = {v.path for v, per in zip(variables, about["per_channel"],
                                                         strict=True) if per}
        clusters.latent = {v.path: arrays[f"latent{i}"] for i, v in enumerate(variables)}
        clusters.keep = {v.path: arrays[f"keep{i}"] for i, v in enumerate(variables)}
        clusters.centroids = {v.path: list(arrays[f"centroids{i}"])
                              for i, v in enumerate(variables)}
        clusters.held = {v.path: v for v in held}
        clusters.held_masks = {v.path: arrays[f"held{i}"] for i, v in enumerate(held)}
        clusters.snapped = {}
        clusters.apply()
        return clusters


def saved_kind(path: Path) -> str | None:
    """What a masks file beside a checkpoint holds: KIND for clusters, None for masks."""
    with np.load(path) as saved:
        return json.loads(str(saved["about"])).get("kind")


def follow(clusters: Clusters) -> Any:
    """A Keras 3 callback that keeps the model clustered while it trains (tfmot's clustering
    wrapper's work, between batches)."""
    keras = _compat.keras3_engine()

    class FollowCentroids(keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            clusters.advance()

    return FollowCentroids()
