"""Progress events from the library. The base reporter is silent; the CLI draws them with rich."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any


class Task:
    """A unit of long work (epochs, batches, timed runs) that advances step by step."""

    live = False  # whether anyone watches each step (per-batch progress costs training time)

    def advance(self, steps: int = 1, status: str = "") -> None:
        """Record `steps` more done; `status` is a short live note such as the current loss."""

    def log(self, line: str) -> None:
        """A milestone worth a line of its own where progress goes to a log (an epoch's loss
        and accuracy); a live display may show it as the status instead."""


class Reporter:
    """Receives progress from a build. Subclass and override what you want to show."""

    def stage_started(self, index: int, total: int, kind: str, summary: str) -> None:
        """Stage `index` of `total` (1-based) begins."""

    def stage_finished(self, index: int, total: int, kind: str, seconds: float,
                       outputs: Mapping[str, Any]) -> None:
        """Stage `index` ended after `seconds`."""

    @contextlib.contextmanager
    def task(self, description: str, total: int, unit: str = "steps") -> Iterator[Task]:
        """Track long work of `total` steps (counted in `unit`) inside the running stage."""
        yield Task()

    def note(self, message: str) -> None:
        """Something the user should know (a choice made, a fallback taken)."""

    def warning(self, message: str) -> None:
        """Something that makes the build's figures doubtful, shown so it is not missed."""
