"""Structural surgery: remove whole Dense units and Conv filters, rebuild a smaller model.

Planning traces which producers' channels (the last axis) reach which layers. Channels flow
unchanged through activations, dropout, pooling, padding, batch normalisation and depthwise
convolutions; Flatten spreads them over positions; Concatenate offsets them; an elementwise
merge (Add, Multiply, ...) ties the producers feeding it into one group that must keep the
same channels. Producers whose channels reach the model's outputs or a layer that mixes the
channel axis in ways this module does not follow (Reshape, LayerNormalization, ...) stay whole,
and the plan says why.

Rebuilding copies the model's config with the new widths and slices every weight that sees a
removed channel: the producer's own kernel and bias, batch-norm statistics, depthwise kernels,
and the input rows of the next Dense/Conv (through Flatten, position by position).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _compat
from .errors import ModelError
from .keras_graph import Graph, graph_of, layer_costs

PRODUCERS = {"Dense": "units", "Conv1D": "filters", "Conv2D": "filters"}
PASS_THROUGH = {
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "Softmax", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
    "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D", "ZeroPadding2D",
    "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "BatchNormalization",
    "DepthwiseConv2D", "Flatten",
}
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
INPUT_SLICERS = {"SeparableConv2D"}  # consume channels (their inputs shrink) but stay whole


@dataclass
class Group:
    """Producers that must keep the same channels (one alone, or tied by residual merges)."""

    members: list[str]
    width: int
    reasons: list[str] = field(default_factory=list)  # why it cannot be pruned, if it cannot

    @property
    def prunable(self) -> bool:
        return not self.reasons

    @property
    def name(self) -> str:
        return "+".join(self.members)


@dataclass(frozen=True)
class Plan:
    graph: Graph
    groups: list[Group]

    @property
    def prunable(self) -> list[Group]:
        return [g for g in self.groups if g.prunable]


def plan(model: Any, exclude: tuple[str, ...] = ()) -> Plan:
    """Which producers can lose channels, in which groups, and why the others cannot."""
    graph = graph_of(model)
    sources: dict[str, frozenset[str]] = {}
    reasons: dict[str, list[str]] = {}
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    def block(names: frozenset[str] | set[str], reason: str) -> None:
        for name in names:
            reasons.setdefault(name, []).append(reason)

    for layer in graph.layers:
        name, kind = layer.name, type(layer).__name__
        inputs = [sources[i] for i in graph.inbound[name]]
        merged = frozenset().union(*inputs)
        if kind == "InputLayer":
            sources[name] = frozenset()
        elif kind in PRODUCERS:
            sources[name] = frozenset({name})
            parent[name] = name
            if name in exclude or kind in exclude:
                block({name}, "listed in structural.exclude")
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                block({name}, "channels_first layout")
        elif kind in PASS_THROUGH and _channels_last(layer):
            sources[name] = merged
        elif kind in ELEMENTWISE:
            sources[name] = merged
            if any(len(s) != 1 for s in inputs):
                block(merged, f"its channels meet other channels in {kind} '{name}' that "
                              "cannot follow them (an input, or concatenated channels)")
            for other in merged:
                parent[find(other)] = find(next(iter(merged)))
        elif kind == "Concatenate" and layer.axis in (-1, len(layer.output_shape) - 1):
            sources[name] = merged
        elif kind in INPUT_SLICERS:
            sources[name] = frozenset()
        else:
            sources[name] = frozenset()
            block(merged, f"its channels reach a {kind} layer ('{name}')")
    for output in graph.outputs:
        block(sources[output], "its units are the model's outputs")

    members: dict[str, list[str]] = {}
    for name in parent:
        members.setdefault(find(name), []).append(name)
    groups = []
    for names in members.values():
        widths = {graph.layer(n).output_shape[-1] for n in names}
        group = Group(names, widths.pop(), sorted({r for n in names for r in reasons.get(n, [])}))
        if widths:
            group.reasons.append("its members have different widths")
        groups.append(group)
    return Plan(graph, groups)


def _channels_last(layer: Any) -> bool:
    kind = type(layer).__name__
    if kind == "BatchNormalization":
        axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
        return len(axes) == 1 and axes[0] in (-1, len(layer.input_shape) - 1)
    if kind == "DepthwiseConv2D":
        return layer.depth_multiplier == 1 and layer.data_format == "channels_last"
    if kind == "Softmax":
        return layer.axis in (-1, len(layer.input_shape) - 1)
    return getattr(layer, "data_format", "channels_last") == "channels_last"


def rebuild(graph: Graph, keep: dict[str, np.ndarray]) -> Any:
    """A new model with only the `keep`-indexed channels of each producer (by layer name)."""
    keras = _compat.keras()
    config = copy.deepcopy(graph.config)
    layer_configs = {entry["name"]: entry["config"] for entry in config["layers"]}
    maps: dict[str, np.ndarray | None] = {}
    weights: dict[str, list[np.ndarray]] = {}
    for layer in graph.layers:
        name, kind = layer.name, type(layer).__name__
        ins = [maps[i] for i in graph.inbound[name]]
        channels = ins[0] if ins else None
        old = layer.get_weights()
        if kind in PRODUCERS:
            kernel, *rest = old
            if channels is not None:
                kernel = np.take(kernel, channels, axis=-2)
            kept = keep.get(name)
            if kept is not None:
                kernel = kernel[..., kept]
                rest = [bias[kept] for bias in rest]
                layer_configs[name][PRODUCERS[kind]] = len(kept)
            weights[name], maps[name] = [kernel, *rest], kept
        elif kind in ("BatchNormalization", "PReLU"):
            weights[name] = [w if channels is None else np.take(w, channels, axis=-1)
                             for w in old]
            maps[name] = channels
        elif kind == "DepthwiseConv2D":
            kernel, *rest = old
            if channels is not None:
                kernel = np.take(kernel, channels, axis=2)
                rest = [np.take(b, channels) for b in rest]
            weights[name], maps[name] = [kernel, *rest], channels
        elif kind == "SeparableConv2D":
            depthwise, pointwise, *rest = old
            if channels is not None:
                multiplier = layer.depth_multiplier
                depthwise = np.take(depthwise, channels, axis=2)
                expanded = (channels[:, None] * multiplier + np.arange(multiplier)).ravel()
                pointwise = np.take(pointwise, expanded, axis=2)
            weights[name], maps[name] = [depthwise, pointwise, *rest], None
        elif kind == "Flatten":
            shape = layer.input_shape
            positions = int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
            maps[name] = None if channels is None else (
                np.arange(positions)[:, None] * shape[-1] + channels[None, :]).ravel()
            weights[name] = old
        elif kind == "Concatenate":
            parts, offset = [], 0
            for index, part in enumerate(ins):
                width = layer.input_shape[index][-1]
                parts.append((np.arange(width) if part is None else part) + offset)
                offset += width
            maps[name] = None if all(p is None for p in ins) else np.concatenate(parts)
            weights[name] = old
        else:  # pass-through, elementwise merges, and layers no removed channel reaches
            maps[name], weights[name] = channels, old
    model = keras.Model.from_config(config)
    for layer in model.layers:
        layer.set_weights(weights[layer.name])
    return model


def select(plan_: Plan, scores: dict[str, np.ndarray], ratios: dict[str, float],
           min_width: int, allocation: str) -> dict[str, np.ndarray]:
    """The channels each prunable group keeps: per group (`uniform`) or ranked over all groups
    (`global`), never fewer than `min_width`. `scores` is one score per channel per producer;
    `ratios` the share to remove per group (by any member's name, "*" for the rest)."""
    keep: dict[str, np.ndarray] = {}
    group_scores = {g.name: sum(scores[m] for m in g.members) for g in plan_.prunable}
    floor = {g.name: min(g.width, min_width) for g in plan_.prunable}
    if allocation == "uniform":
        for group in plan_.prunable:
            ratio = next((ratios[m] for m in group.members if m in ratios), ratios["*"])
            count = max(floor[group.name], group.width - int(group.width * ratio))
            keep[group.name] = np.sort(np.argsort(-group_scores[group.name],
                                                  kind="stable")[:count])
    else:
        normalised = {name: s / (s.mean() or 1.0) for name, s in group_scores.items()}
        total = sum(g.width for g in plan_.prunable)
        target = int(total * ratios["*"])
        kept = {g.name: np.ones(g.width, bool) for g in plan_.prunable}
        ranked = sorted((score, name, index) for name, s in normalised.items()
                        for index, score in enumerate(s))
        removed = 0
        for _, name, index in ranked:
            if removed >= target:
                break
            if kept[name].sum() > floor[name]:
                kept[name][index] = False
                removed += 1
        keep = {name: np.flatnonzero(mask) for name, mask in kept.items()}
    return {member: keep[g.name] for g in plan_.prunable for member in g.members}


def shrink_report(before: Any, after: Any, plan_: Plan,
                  keep: dict[str, np.ndarray]) -> dict[str, Any]:
    """Width, parameters and multiply-accumulates per layer, before and after."""
    cost_before, cost_after = layer_costs(before), layer_costs(after)
    rows = []
    for name, cost in cost_before.items():
        layer = before.get_layer(name)
        new = cost_after.get(name, {"params": 0, "macs": 0})
        rows.append({"layer": name, "type": type(layer).__name__,
                     "width_before": int(layer.output_shape[-1]),
                     "width_after": int(after.get_layer(name).output_shape[-1]),
                     "params_before": cost["params"], "params_after": new["params"],
                     "macs_before": cost["macs"], "macs_after": new["macs"]})
    skipped = [{"layers": g.members, "reason": "; ".join(g.reasons)}
               for g in plan_.groups if not g.prunable]
    return {
        "layers": rows,
        "skipped": skipped,
        "groups": [g.members for g in plan_.prunable if len(g.members) > 1],
        "params_before": int(before.count_params()), "params_after": int(after.count_params()),
        "macs_before": sum(c["macs"] for c in cost_before.values()),
        "macs_after": sum(c["macs"] for c in cost_after.values()),
        "channels_removed": int(sum(g.width - len(keep[g.members[0]])
                                    for g in plan_.prunable)),
    }


def check_rebuilt(model: Any, sample: np.ndarray) -> None:
    """The rebuilt model runs (a slicing mistake would fail here, not in the converter)."""
    try:
        model(sample[:1], training=False)
    except Exception as exc:  # pragma: no cover - a bug in the surgery, reported plainly
        raise ModelError(f"the rebuilt model does not run ({exc})", model.name,
                         "report this model; exclude the layer named in the message") from None
