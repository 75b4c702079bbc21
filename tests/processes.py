"""Builds run as separate `prune2edge` processes, as users run them (signals, environments)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).parent


def prune2edge_process(*args, env=None, **popen):
    """`python -m prune2edge ARGS` with the tests' model modules importable."""
    env = dict(env or os.environ)
    env["PYTHONPATH"] = f"{TESTS}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.Popen([sys.executable, "-m", "prune2edge", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint, **popen)


def _default_sigint():
    """Ctrl-C as a terminal delivers it, even when the tests themselves run in the background
    (where SIGINT is ignored, and a child inheriting that would never see it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_epochs(state: Path, stage: int, epochs: int, process) -> dict:
    """The checkpoint state once stage `stage` has saved `epochs` epochs."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            doc = json.loads(state.read_text())
            if doc["stage_index"] == stage and doc["epochs_done"] >= epochs:
                return doc
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError("the build never reached the epoch to interrupt")
