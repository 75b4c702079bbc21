"""Route native output (TensorFlow's C++ logs, converter and LiteRT chatter) away from the
terminal: to a log file in the build directory, or nowhere."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def _redirected(target: IO[bytes]) -> Iterator[None]:
    """Point file descriptor 2 at `target` for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(target.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextlib.contextmanager
def captured(path: Path | None) -> Iterator[None]:
    """Append whatever is written to file descriptor 2 to `path` (no-op for None)."""
    if path is None:
        yield
        return
    with open(path, "ab") as log, _redirected(log):
        yield


@contextlib.contextmanager
def discarded() -> Iterator[None]:
    """Drop native output (e.g. LiteRT's "Created XNNPACK delegate" line)."""
    with collected():
        yield


@contextlib.contextmanager
def collected() -> Iterator[list[str]]:
    """Collect native output instead of showing it: the list yielded holds its lines once the
    block ends (e.g. TensorFlow Lite Micro's allocation printout)."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        try:
            with _redirected(sink):
                yield lines
        finally:
            sink.seek(0)
            lines += sink.read().decode(errors="replace").splitlines()
