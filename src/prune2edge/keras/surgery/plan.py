"""Structural planning: which producers (Dense/Conv layers) can lose output channels, in which
groups, and why the others cannot.

Each layer's handler (`handlers`) says how its output channels derive from its inputs' (as a
`layout.Layout`): unchanged through activations, pooling, normalisation and depthwise
convolutions; spread over positions by Flatten; side by side after Concatenate; tied into one
group by elementwise merges (residual Adds, squeeze-excite Multiplies). Producers whose
channels reach the model's outputs, fixed channels (the model's input) or a layer no handler
follows stay whole, and the plan says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ... import _compat
from ..graph import Graph, graph_of
from ..keras3_graph import keras3_graph
from .handlers import handler_for, out_width
from .layout import Layout, Tracer, sources


@dataclass
class Group:
    """Producers that must keep the same channels (one alone, or tied by merges)."""

    members: list[str]
    width: int
    reasons: list[str] = field(default_factory=list)  # why it cannot be pruned, if it cannot
    step: int = 1  # channels go in whole blocks of this many (grouped convolutions)

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
    layouts: dict[str, Layout] = field(default_factory=dict)  # each layer's output channels

    @property
    def prunable(self) -> list[Group]:
        return [g for g in self.groups if g.prunable]


def plan(model: Any, exclude: tuple[str, ...] = ()) -> Plan:
    """Which producers can lose channels, in which groups, and why the others cannot."""
    graph = keras3_graph(model) if _compat.is_keras3_node(model) else graph_of(model)
    tracer = Tracer(exclude)
    layouts: dict[str, Layout] = {}
    for layer in graph.layers:
        inputs = [layouts[i] for i in graph.inbound[layer.name]]
        layouts[layer.name] = handler_for(layer).trace(layer, inputs, tracer)
    for output in graph.outputs:
        tracer.block(sources([layouts[output]]), "its units are the model's outputs")
    components: dict[str, list[str]] = {}
    for source in tracer.parent:
        components.setdefault(tracer.find(source), []).append(source)
    producers = set(tracer.producers)
    groups = []
    for names in components.values():
        members = [n for n in names if n in producers]
        if not members:
            continue
        widths = {out_width(graph.layer(n)) for n in members}
        reasons = sorted({r for n in names for r in tracer.reasons.get(n, [])})
        step = math.lcm(*(tracer.steps.get(n, 1) for n in names))
        group = Group(members, widths.pop(), reasons, step)
        if widths:
            group.reasons.append("its members have different widths")
        groups.append(group)
    return Plan(graph, groups, layouts)
