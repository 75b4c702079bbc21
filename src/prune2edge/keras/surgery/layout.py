"""Channel layouts and the dependency tracer that structural planning runs on.

A tensor's channels (its last axis) are a `Layout`: segments laid end to end, each the
channels of one source. A source is a producer whose channels surgery may remove (a Dense or
Conv layer), or fixed channels no surgery may touch (the model's input, the output of a layer
that mixes channels). Elementwise merges tie the sources they combine, segment by segment,
into one group that must keep the same channels (residual chains of any length, squeeze-excite
gates); concatenation lays segments side by side; a grouped convolution makes its sources lose
channels in whole groups.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """`width` channels of `source`; each source channel appears `repeat` times in a row (a
    depthwise convolution with depth_multiplier > 1)."""

    source: str
    width: int
    repeat: int = 1


Layout = tuple[Segment, ...]


def width(layout: Layout) -> int:
    return sum(s.width for s in layout)


def sources(layouts: Iterable[Layout]) -> set[str]:
    return {s.source for layout in layouts for s in layout}


class Tracer:
    """What planning learns while handlers trace the graph: producers, fixed sources, which
    sources are tied together, why some must stay whole, and in what steps they may shrink."""

    def __init__(self, exclude: Sequence[str] = ()):
        self.exclude = tuple(exclude)
        self.parent: dict[str, str] = {}  # union-find over sources
        self.producers: list[str] = []
        self.fixed: dict[str, str] = {}  # fixed source -> what it is
        self.reasons: dict[str, list[str]] = {}
        self.steps: dict[str, int] = {}  # source -> channels must go in multiples of this

    def producer(self, name: str, channels: int) -> Layout:
        """New channels that surgery may remove."""
        self.parent[name] = name
        self.producers.append(name)
        return (Segment(name, channels),)

    def fixed_channels(self, name: str, channels: int, what: str) -> Layout:
        """New channels that must stay as they are (`what` says why, for reports)."""
        source = f"@{name}"
        self.parent[source] = source
        self.fixed[source] = what
        return (Segment(source, channels),)

    def find(self, name: str) -> str:
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def block(self, names: Iterable[str], reason: str) -> None:
        for name in names:
            self.reasons.setdefault(name, []).append(reason)

    def step(self, layout: Layout, size: int) -> None:
        """The channels of `layout`'s sources may only go in whole blocks of `size`."""
        for segment in layout:
            known = self.steps.get(segment.source, 1)
            self.steps[segment.source] = known * size // math.gcd(known, size)

    def tie(self, layouts: Sequence[Layout], where: str) -> bool:
        """Tie the layouts' sources segment by segment (they must keep the same channels).
        Narrower layouts (one channel) broadcast and tie nothing. Returns False, and blocks
        every source involved, when the layouts are segmented differently."""
        widest = max(width(layout) for layout in layouts)
        full = [layout for layout in layouts if width(layout) == widest]
        shapes = {tuple((s.width, s.repeat) for s in layout) for layout in full}
        if len(shapes) > 1:
            self.block(sources(full), f"its channels meet differently arranged channels in "
                                      f"{where}")
            return False
        for segments in zip(*full, strict=True):
            root = self.find(segments[0].source)
            for segment in segments[1:]:
                other = self.find(segment.source)
                if other != root:
                    self.parent[other] = root
                    fixed = [s for s in (root, other) if s in self.fixed]
                    for source in fixed:
                        self.reasons.setdefault(source, []).append(
                            f"its channels are tied to {self.fixed[source]} in {where}")
        return True
