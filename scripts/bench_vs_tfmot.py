"""prune2edge vs a hand-written plain-tfmot script doing the same work (models/mnist_cnn.toml).

Runs both in one go, alternating, on this machine, and prints wall time (the fastest of each),
sizes and accuracy with their ratios. prune2edge does more than the script: it also converts
and validates the dense baseline, times both models, and writes plots and a report.
Goal: sizes within 3% of plain tfmot, the same accuracy.

    python scripts/bench_vs_tfmot.py [--out build/bench] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_prune2edge(out: Path) -> dict:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "prune2edge", "build", str(ROOT / "models" /
                    "mnist_cnn.toml"), "--out", str(out), "--force", "--quiet"], check=True)
    seconds = time.perf_counter() - started
    report = json.loads((out / "report.json").read_text())
    return {"seconds": seconds, "baseline": report["sizes"]["baseline"],
            "final": report["sizes"]["final"], "keras_accuracy": report["accuracy"]["keras"],
            "tflite_accuracy": report["accuracy"]["tflite"]}


def run_plain(out: Path) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "plain_tfmot_cnn.py"),
                             "--out", str(out)], check=True, capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["seconds"] = time.perf_counter() - started  # process wall time, like prune2edge's
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternate runs of each; the fastest wall time counts")
    args = parser.parse_args()
    runs = [(run_prune2edge(args.out / "prune2edge"), run_plain(args.out / "plain-tfmot"))
            for _ in range(args.repeats)]  # alternating, so a busy spell hits both
    ours = min((r[0] for r in runs), key=lambda r: r["seconds"])
    plain = min((r[1] for r in runs), key=lambda r: r["seconds"])
    rows = [
        ("wall time (s)", ours["seconds"], plain["seconds"]),
        ("final .tflite bytes", ours["final"]["bytes"], plain["final"]["bytes"]),
        ("final .tflite gzip bytes", ours["final"]["gzip_bytes"], plain["final"]["gzip_bytes"]),
        ("baseline .tflite bytes", ours["baseline"]["bytes"], plain["baseline"]["bytes"]),
        ("keras accuracy", ours["keras_accuracy"], plain["keras_accuracy"]),
        (".tflite accuracy", ours["tflite_accuracy"], plain["tflite_accuracy"]),
    ]
    print("\nmodels/mnist_cnn.toml: prune2edge vs plain tfmot (same machine, same run)")
    print(f"{'':28}{'prune2edge':>14}{'plain tfmot':>14}{'ratio':>9}")
    for name, a, b in rows:
        fmt = "{:>14,d}" if isinstance(a, int) else "{:>14,.4f}" if a < 1.5 else "{:>14,.1f}"
        print(f"{name:28}{fmt.format(a)}{fmt.format(b)}{a / b:>8.3f}x")
    size_gap = abs(ours["final"]["gzip_bytes"] / plain["final"]["gzip_bytes"] - 1)
    print(f"\nfinal gzip size differs by {size_gap:.2%} (goal: within 3%)")


if __name__ == "__main__":
    main()
