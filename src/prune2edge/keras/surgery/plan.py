"""Structural planning: which producers (Dense/Conv layers) can lose output channels, in which
groups, and why the others cannot.

Channels flow through the graph as each layer's handler (`handlers`) says: unchanged through
activations, pooling, normalisation and depthwise convolutions; spread over positions by
Flatten; offset by Concatenate; tied into one group by elementwise merges (Add, Multiply, ...).
Producers whose channels reach the model's outputs, or a layer no handler follows, stay whole,
and the plan says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..graph import Graph, graph_of
from .handlers import Sources, Tracer, handler_for


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
    tracer = Tracer(exclude)
    sources: dict[str, Sources] = {}
    for layer in graph.layers:
        inputs = [sources[i] for i in graph.inbound[layer.name]]
        sources[layer.name] = handler_for(layer).trace(layer, inputs, tracer)
    for output in graph.outputs:
        tracer.block(sources[output], "its units are the model's outputs")
    members: dict[str, list[str]] = {}
    for name in tracer.parent:
        members.setdefault(tracer.find(name), []).append(name)
    groups = []
    for names in members.values():
        widths = {graph.layer(n).output_shape[-1] for n in names}
        reasons = sorted({r for n in names for r in tracer.reasons.get(n, [])})
        group = Group(names, widths.pop(), reasons)
        if widths:
            group.reasons.append("its members have different widths")
        groups.append(group)
    return Plan(graph, groups)
