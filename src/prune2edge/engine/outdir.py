"""The build directory: one writer at a time, staging, and an all-or-nothing commit."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from .. import storage
from ..errors import OutputError
from .checkpoint import RESUME_DIR, describe_checkpoint

LOCK_NAME = ".prune2edge.lock"
STAGING_PREFIX = ".staging-"
REPORT_NAME = "report.json"


class BuildDir:
    """Context manager that locks `out`, hands out a staging directory, and commits it.

    Artifacts are written into the staging directory; `commit()` moves them into `out`
    (report.json last, so a report always describes complete artifacts). Leaving the
    context without a commit removes the staging directory: nothing half-written remains.
    """

    def __init__(self, out: Path, force: bool = False, resume: bool = False):
        self.out = Path(out)
        self.force = force
        self.resume = resume
        self._staging: Path | None = None
        self._lock: IO[str] | None = None
        self._created = False

    def __enter__(self) -> BuildDir:
        out = self.out
        if out.exists() and not out.is_dir():
            raise OutputError("the output path is a file", str(out), "choose a directory")
        try:
            self._created = not out.exists()
            out.mkdir(parents=True, exist_ok=True)
            self._lock = open(out / LOCK_NAME, "a")
        except OSError as exc:
            raise OutputError(f"cannot write to the output directory ({exc.strerror})", str(out),
                              "choose a directory you can write to with --out") from exc
        if not storage.lock(self._lock):
            self._lock.close()
            self._lock = None
            raise OutputError("another build is writing to this directory", str(out),
                              "wait for it to finish, or choose another --out")
        try:
            self._check_empty()
            self._staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        except BaseException:
            self._release()
            raise
        return self

    @property
    def staging(self) -> Path:
        """Where artifacts are written until `commit()`."""
        if self._staging is None:
            raise RuntimeError("the staging directory exists only inside the context")
        return self._staging

    def _check_empty(self) -> None:
        entries = []
        for entry in self.out.iterdir():
            if entry.name.startswith(STAGING_PREFIX):  # left by a killed build
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name not in (LOCK_NAME, RESUME_DIR):
                entries.append(entry.name)
        checkpoint = self.out / RESUME_DIR
        if self.resume:
            if not checkpoint.is_dir():
                raise OutputError("there is no interrupted build to resume", str(self.out),
                                  "run the build without --resume")
            return  # the interrupted build was allowed to replace what is here
        if checkpoint.is_dir():
            if not self.force:
                raise OutputError("an interrupted build left its checkpoint here",
                                  str(self.out),
                                  "pass --resume to continue it, or --force to start over")
            shutil.rmtree(checkpoint)
        if entries and not self.force:
            shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
            raise OutputError(f"the output directory is not empty ({shown})", str(self.out),
                              "pass --force to replace the build in it, or choose another --out")

    def commit(self, keep_checkpoint: bool = False) -> None:
        """Move everything staged into the output directory, replacing an earlier build; the
        checkpoint goes too, unless `keep_checkpoint` (the work goes on later). Ctrl-C or
        SIGTERM waits until the move is done."""
        with storage.uninterrupted():
            self._commit(keep_checkpoint)

    def _commit(self, keep_checkpoint: bool) -> None:
        report = self.out / REPORT_NAME
        for name in _previous_artifacts(report):
            _remove(self.out / name)
        _remove(report)
        staged = sorted(self.staging.iterdir(), key=lambda p: p.name == REPORT_NAME)
        for entry in staged:
            target = self.out / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
        self.staging.rmdir()
        self._staging = None
        if not keep_checkpoint:
            shutil.rmtree(self.out / RESUME_DIR, ignore_errors=True)

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        full = self._no_space() if storage.is_no_space(exc) else None
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        self._release()
        if full is not None:
            raise full from exc

    def _no_space(self) -> OutputError:
        """The error for a full disk: what the build had written, and that again, is a fair
        estimate of the room it needs (the next checkpoint, then the commit)."""
        written = sum(storage.footprint(path) for path in (self._staging, self.out / RESUME_DIR)
                      if path is not None)
        then = (", then run the same command with --resume" if describe_checkpoint(self.out)
                else "")
        return storage.no_space(self.out, "the build", 2 * written + storage.MB, then)

    def _release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                (self.out / LOCK_NAME).unlink()
            self._lock.close()
            self._lock = None
        if self._created:
            with contextlib.suppress(OSError):
                self.out.rmdir()  # only succeeds when nothing was committed


def _previous_artifacts(report: Path) -> list[str]:
    """Top-level entries an earlier build listed in its report (so --force leaves none stale)."""
    try:
        artifacts = json.loads(report.read_text()).get("artifacts", {})
    except (OSError, ValueError, AttributeError):
        return []
    tops = {name.split("/")[0] for name in artifacts}
    return sorted(name for name in tops if name and not name.startswith("."))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
