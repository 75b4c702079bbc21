"""MobileNetV2 on the bundled MNIST: structural pruning + int8 against the same model dense
int8 (not only float32), measured side by side in one run.

1. Builds models/mobilenet_v2_mnist.toml (train, structural, fine-tune, int8) and the same
   recipe with only train, quantize, convert, validate (dense int8). Both start from the same
   trained model (same seed, same train stage), whose dense float32 .tflite is the baseline.
2. Runs the three .tflite files in one validator pass: accuracy over the 2,000 test images and
   batch-1 latency with 1 thread, taking turns over fresh interpreters.

Goal (issue 13): p50 >= 2.5x faster than dense int8 at <= 1 pt accuracy drop.

    python scripts/bench_mobilenet.py [--out build/bench/mobilenet] [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prune2edge import build
from prune2edge.data import DataSpec, fit_to_model, load
from prune2edge.engine import native_log
from prune2edge.tflite.runner import TFLiteRunner
from prune2edge.tflite.validator import evaluate

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "models" / "mobilenet_v2_mnist.toml"
GOAL = (2.5, 1.0)  # at least this many times faster than dense int8, at most this drop (pt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "mobilenet")
    parser.add_argument("--runs", type=int, default=2000, help="timed runs per model")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with native_log.captured(args.out / "native.log"):
        pruned = build(RECIPE, args.out / "pruned", force=True, log_native=True)
        dense = build(RECIPE, args.out / "dense-int8", force=True, log_native=True,
                      only=("train", "quantize", "convert", "validate"))
        files = {"dense float32": args.out / "pruned" / "baseline.tflite",
                 "dense int8": args.out / "dense-int8" / "model.tflite",
                 "structural + int8": args.out / "pruned" / "model.tflite"}
        shape = TFLiteRunner(files["dense float32"]).input_shape
        data = fit_to_model(load(DataSpec(), ROOT, shape), shape, 10)
        figures = evaluate(files, data, runs=args.runs, interpreters=10, memory=False)
    structural = pruned.structural[0]
    print(f"\n{RECIPE.name}: MobileNetV2 alpha 0.35, 32x32 RGB MNIST; built in "
          f"{pruned.seconds:.0f} s and {dense.seconds:.0f} s")
    print(f"structural: {structural['macs_before']:,} -> {structural['macs_after']:,} MACs, "
          f"{structural['params_before']:,} -> {structural['params_after']:,} parameters")
    print(f"{'model':20}{'accuracy':>10}{'p50 ms':>10}{'vs float32':>12}{'vs int8':>9}"
          f"{'bytes':>11}")
    rows = []
    for name, f in figures.items():
        row = {"model": name, "accuracy": f.accuracy, "p50_ms": f.latency.p50,
               "p50_range": f.latency.p50_range, "bytes": files[name].stat().st_size,
               "vs_float32": figures["dense float32"].latency.p50 / f.latency.p50,
               "vs_int8": figures["dense int8"].latency.p50 / f.latency.p50}
        rows.append(row)
        print(f"{name:20}{f.accuracy:>10.2%}{f.latency.p50:>10.4f}{row['vs_float32']:>11.2f}x"
              f"{row['vs_int8']:>8.2f}x{row['bytes']:>11,}")
    (args.out / "mobilenet.json").write_text(json.dumps(rows, indent=2) + "\n")
    final, int8 = rows[-1], rows[1]
    drop = (figures["dense float32"].accuracy - final["accuracy"]) * 100
    met = final["vs_int8"] >= GOAL[0] and drop <= GOAL[1]
    print(f"\ngoal (>= {GOAL[0]}x faster than dense int8 at <= {GOAL[1]} pt drop): "
          f"{'met' if met else 'NOT met'}: {final['vs_int8']:.2f}x, {drop:+.2f} pt vs float32 "
          f"({(int8['accuracy'] - final['accuracy']) * 100:+.2f} pt vs dense int8)")


if __name__ == "__main__":
    main()
