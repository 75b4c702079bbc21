"""Structural pruning on the MNIST CNN: the shipped recipes, measured side by side in one run.

1. Builds the shipped recipes (models/mnist_cnn_fast.toml for latency, mnist_cnn_small.toml
   for size), the plain tfmot reference (mnist_cnn.toml: 80% magnitude + int8) and int8 alone
   (the same recipe with --only train/quantize/convert/validate). All start from the same
   trained CNN, whose dense float32 .tflite is the baseline.
2. Runs every .tflite on this CPU in one validator pass: accuracy over the 2,000 test images
   and batch-1 latency with 1 thread, the models taking turns so they see the same machine.
(Criteria at equal sparsity — magnitude, OBD, OBS, L1 — are compared by bench_obs.py.)

Goals (issue 8): p50 >= 5x lower at <= 1 pt accuracy drop; gzip size >= 30x smaller at
<= 0.5 pt drop.

    python scripts/bench_structural.py [--out build/bench/structural] [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchlib import ROOT, cli, test_data
from prune2edge import build
from prune2edge.sizes import Size
from prune2edge.tflite.validator import evaluate

VARIANTS = {  # name -> (recipe, --only kinds)
    "plain tfmot 80% + int8": ("mnist_cnn.toml", ()),
    "int8 alone": ("mnist_cnn.toml", ("train", "quantize", "convert", "validate")),
    "structural (fast)": ("mnist_cnn_fast.toml", ()),
    "structural + sparse (small)": ("mnist_cnn_small.toml", ()),
}
GOALS = {"latency": (5.0, 1.0), "size": (30.0, 0.5)}  # (ratio at least, drop at most)


def build_variants(out: Path) -> dict[str, Path]:
    files = {}
    for name, (recipe, only) in VARIANTS.items():
        target = out / name.split(" (")[0].replace(" ", "-").replace("%", "").replace("+", "")
        report = build(ROOT / "models" / recipe, target, force=True, only=only, log_native=True)
        files.setdefault("dense float32 baseline", target / "baseline.tflite")
        files[name] = target / "model.tflite"
        print(f"built {name}: {report.seconds:.0f} s", flush=True)
    return files


def compare(files: dict[str, Path], data, runs: int) -> list[dict]:
    figures = evaluate(files, data, runs=runs, interpreters=10, memory=False)
    base = figures["dense float32 baseline"]
    base_size = Size.of_file(files["dense float32 baseline"])
    rows = []
    for name, f in figures.items():
        size = Size.of_file(files[name])
        rows.append({"model": name, "accuracy": f.accuracy,
                     "change_pt": (f.accuracy - base.accuracy) * 100,
                     "p50_ms": f.latency.p50, "p50_range": f.latency.p50_range,
                     "speedup": base.latency.p50 / f.latency.p50, "gzip_bytes": size.gzip_bytes,
                     "gzip_ratio": base_size.gzip_bytes / size.gzip_bytes,
                     "kernels": f.latency.kernels})
    return rows


def run(args: argparse.Namespace) -> None:
    files = build_variants(args.out)
    rows = compare(files, test_data(ROOT / "models" / "mnist_cnn.toml", args.out), args.runs)
    print("\nMNIST CNN on this CPU, batch 1, 1 thread, all models timed in turns in one run")
    print(f"{'model':30}{'accuracy':>9}{'change pt':>10}{'p50 ms':>9}{'faster':>8}"
          f"{'gzip B':>9}{'smaller':>9}")
    for r in rows:
        print(f"{r['model']:30}{r['accuracy']:>9.2%}{r['change_pt']:>+10.2f}{r['p50_ms']:>9.4f}"
              f"{r['speedup']:>7.2f}x{r['gzip_bytes']:>9,}{r['gzip_ratio']:>8.1f}x")
    print()
    for goal, (ratio, drop) in GOALS.items():
        key = "speedup" if goal == "latency" else "gzip_ratio"
        best = max((r for r in rows if r["change_pt"] >= -drop), key=lambda r: r[key])
        verdict = "met" if best[key] >= ratio else "NOT met"
        print(f"{goal} goal (>= {ratio:g}x at <= {drop} pt drop): {verdict}: "
              f"{best[key]:.1f}x by {best['model']} ({best['change_pt']:+.2f} pt)")
    (args.out / "figures.json").write_text(json.dumps({"models": rows}, indent=2))


if __name__ == "__main__":
    cli(__doc__, "structural", run, runs=2000)
