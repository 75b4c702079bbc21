"""Independent work in parallel processes (`--jobs N`): the trials of `tune`, the cells of a
`sensitivity` scan.

Each worker is a fresh (spawned) Python process: `setup(*args)` runs once in it and builds
the state every task reads (a model loaded from a file, the data); `task(state, item)` then
runs per item. Results come back in the order of the items, whatever order the workers
finish in, and the tasks are deterministic, so `--jobs N` writes what `--jobs 1` writes.
With one job, the tasks run here, on the caller's own state.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, wait
from typing import Any

_STATE: Any = None  # a worker's state, built by its setup


def _start(setup: Callable[..., Any], args: tuple[Any, ...]) -> None:
    global _STATE
    _STATE = setup(*args)


def _run(task: Callable[[Any, Any], Any], item: Any) -> Any:
    return task(_STATE, item)


class Jobs:
    """`jobs` worker processes set up by `setup(*args)`, or the caller's `state` for one."""

    def __init__(self, jobs: int, state: Any, setup: Callable[..., Any],
                 args: tuple[Any, ...] = ()):
        self.jobs, self.state = jobs, state
        self.pool = None if jobs <= 1 else ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
            initargs=(setup, args))

    def map(self, task: Callable[[Any, Any], Any], items: Iterable[Any],
            done: Callable[[Any], None] = lambda item: None) -> list[Any]:
        """`task(state, item)` for every item, in order; `done(item)` as each finishes."""
        items = list(items)
        if self.pool is None:
            results = []
            for item in items:
                results.append(task(self.state, item))
                done(item)
            return results
        futures = {self.pool.submit(_run, task, item): item for item in items}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when="FIRST_COMPLETED")
            for future in finished:
                future.result()  # a worker's error surfaces here, as it would in-process
                done(futures[future])
        return [future.result() for future in futures]

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
