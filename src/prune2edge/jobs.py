"""Independent work in parallel processes (`--jobs N`): the trials of `tune`, the cells of a
`sensitivity` scan.

`--jobs N` is N processes: this one and N - 1 workers. Each worker is a fresh (spawned)
Python process: `setup(*args)` runs once in it and builds the state every task reads (a
model loaded from a file, the data); `task(state, item)` then runs per item. This process
works too, on its own state, taking items from the end of the list that no worker has
started. Results come back in the order of the items, whoever ran them, and the tasks are
deterministic, so `--jobs N` writes what `--jobs 1` writes.
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
    """This process (with the caller's `state`) and `jobs` - 1 workers set up by
    `setup(*args)`."""

    def __init__(self, jobs: int, state: Any, setup: Callable[..., Any],
                 args: tuple[Any, ...] = ()):
        self.jobs, self.state = jobs, state
        self.pool = None if jobs <= 1 else ProcessPoolExecutor(
            jobs - 1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
            initargs=(setup, args))

    def map(self, task: Callable[[Any, Any], Any], items: Iterable[Any],
            done: Callable[[Any, Any], None] = lambda item, result: None) -> list[Any]:
        """`task(state, item)` for every item, in order; `done(item, result)` as each
        finishes (so a caller interrupted midway keeps what was done)."""
        items = list(items)
        futures = [self.pool.submit(_run, task, item) for item in items] if self.pool else []
        results: dict[int, Any] = {}
        # this process takes, from the end, what no worker has started (everything, alone)
        for index in reversed(range(len(items))) if futures else range(len(items)):
            if not futures or futures[index].cancel():
                results[index] = task(self.state, items[index])
                done(items[index], results[index])
        pending = {f: i for i, f in enumerate(futures) if i not in results}
        while pending:
            finished, _ = wait(pending, return_when="FIRST_COMPLETED")
            for future in finished:
                index = pending.pop(future)
                results[index] = future.result()  # a worker's error surfaces here
                done(items[index], results[index])
        return [results[i] for i in range(len(items))]

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
