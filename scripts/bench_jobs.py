"""`--jobs 2` vs `--jobs 1` on this machine: wall time, and whether the outputs are the same.

1. A structural sensitivity scan of MobileNetV2 (25 groups x 3 ratios, each cell a one-shot
   removal scored on 500 test images): sensitivity.json must be byte-identical.
2. `tune mnist_cnn_tune_small` with the greedy search (size objective; the recipe searches
   uniformly, one trial a step, which leaves nothing to share): each step's trials are shared
   among the workers, the finalists' and compression probes' fine-tunes stay sequential;
   tuned.toml and the winner's model.tflite must be byte-identical.
Both commands train the recipe's dense model first, in one process either way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import benchlib

COMMANDS = {
    "sensitivity mobilenet_v2_mnist": (
        ["sensitivity", "mobilenet_v2_mnist", "--mode", "structural", "--ratios",
         "0.25,0.5,0.75", "--samples", "500", "--force"], ["sensitivity.json"]),
    "tune mnist_cnn_tune_small": (
        ["tune", "mnist_cnn_tune_small", "--set", "tune.search=greedy", "--force", "--quiet"],
        ["tuned.toml", "build/model.tflite"]),
}


def timed_run(args: list[str], out: Path, jobs: int) -> float:
    command = [str(Path(sys.executable).parent / "prune2edge"), *args, "--out", str(out),
               "--jobs", str(jobs)]
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def run(args) -> None:
    for name, (command, outputs) in COMMANDS.items():
        seconds = {}
        for jobs in (1, 2):
            out = args.out / f"{name.split()[0]}-jobs{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            seconds[jobs] = timed_run(command, out, jobs)
        same = all((args.out / f"{name.split()[0]}-jobs1" / f).read_bytes()
                   == (args.out / f"{name.split()[0]}-jobs2" / f).read_bytes() for f in outputs)
        print(f"{name:34} --jobs 1 {seconds[1]:6.0f} s   --jobs 2 {seconds[2]:6.0f} s   "
              f"{seconds[1] / seconds[2]:.2f}x faster   "
              f"{', '.join(outputs)} {'identical' if same else 'DIFFER'}", flush=True)


if __name__ == "__main__":
    benchlib.cli(__doc__, "jobs", run)
