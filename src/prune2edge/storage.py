"""Writing files safely: whole or not at all, and one clear error when the disk is full."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import OutputError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
MB = 1024 * 1024
TEMPORARY = ".tmp-"  # the prefix of every file or folder still being written


def is_no_space(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it was raised from) says the disk or quota is full."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then act on them: a checkpoint or a
    commit is written whole, and no stop lands inside `shutil.rmtree` (where Python can close a
    folder's descriptor twice and turn the stop into an OSError). Off the main thread,
    where signals cannot be caught, the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda received, _: held.append(received))
                for number in stops}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
        for number in dict.fromkeys(held):
            handler = previous[signal.Signals(number)]
            if callable(handler):
                handler(number, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(number)


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding `path` (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def footprint(path: Path) -> int:
    """The bytes of a file, or of every file in a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def no_space(directory: Path, what: str, needed: int | None = None,
             then: str = "") -> OutputError:
    """The one-line error for a full disk while writing `what` into `directory`; `needed` is
    the bytes the work needs there (an estimate), `then` what to run after freeing space."""
    free = free_bytes(directory)
    have = "" if free is None else f", {free / MB:,.1f} MB free"
    short = max(1, math.ceil(((needed or MB) - (free or 0)) / MB))
    return OutputError(f"no space left on the device while writing {what}{have}", str(directory),
                       f"free {short:,} MB or choose another --out{then}")


@contextlib.contextmanager
def temporary_path(target: Path, directory: bool = False) -> Iterator[Path]:
    """A fresh temporary name beside `target` (a file, or a folder if `directory`), moved onto
    `target` when the block ends and removed, with anything written to it, if the block fails."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.with_name(f"{TEMPORARY}{secrets.token_hex(4)}-{target.name}")  # suffix kept
    try:
        if directory:
            path.mkdir()
        yield path
        os.replace(path, target)
    except BaseException:
        remove(path)
        raise


def write_bytes(target: Path, content: bytes | str) -> None:
    """Write `content` to `target` whole: a temporary file beside it, then a rename."""
    with temporary_path(target) as path:
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)


def lock(handle: IO[str]) -> bool:
    """Lock an open file for this process alone, without waiting: False when another process
    holds it (fcntl where it exists, msvcrt on Windows)."""
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # Windows says so with EACCES (or EDEADLOCK)
        if os.name == "nt":
            return False
        raise
    return True


def remove(path: Path) -> None:
    """Remove a file, a link or a folder with everything in it; nothing if it is not there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
