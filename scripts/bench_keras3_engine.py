"""The keras3 engine against the tf_keras engine (translation + tfmot) on one Keras 3 CNN.

The same recipe — `prune2edge.examples:mnist_cnn_keras3` on the bundled MNIST: train, magnitude
pruning to 80 %, fine-tune, strip, int8, convert, validate — built per engine in one run, side
by side, alternating (`--repeats` rounds; the fastest time of each counts, so neither engine
pays alone for TensorFlow's first start). Prints the .tflite accuracies with the paired 95 %
interval of their difference, gzip sizes and wall times, with the ratios. Goals (issue 28):
accuracies within the paired interval of each other, gzip within 3 %, keras3 wall time <= 1.1x
the tf_keras engine's.

    python scripts/bench_keras3_engine.py [--out build/bench/keras3] [--epochs 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from prune2edge import build
from prune2edge.report.stats import Paired
from prune2edge.tflite.runner import TFLiteRunner

RECIPE = """
version = 1
name = "keras3-engine-{engine}"
seed = 0
[model]
source = "prune2edge.examples:mnist_cnn_keras3"
engine = "{engine}"
[data]
source = "builtin:mnist"
[[stages]]
kind = "train"
epochs = {epochs}
[[stages]]
kind = "prune"
schedule = {{ kind = "polynomial_decay", final_sparsity = 0.8, end_step = "70%" }}
[[stages]]
kind = "finetune"
epochs = {epochs}
[[stages]]
kind = "strip"
[[stages]]
kind = "quantize"
mode = "int8"
[[stages]]
kind = "convert"
[[stages]]
kind = "validate"
"""
ENGINES = ("tf_keras", "keras3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/bench/keras3"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, right = {}, {}
    data = np.load(Path(__file__).resolve().parents[1] / "src" / "prune2edge" / "data" /
                   "datasets" / "mnist-10k.npz")
    for _ in range(args.repeats):
        for engine in ENGINES:
            recipe = args.out / f"{engine}.toml"
            recipe.write_text(RECIPE.format(engine=engine, epochs=args.epochs))
            started = time.perf_counter()
            report = build(recipe, args.out / engine, force=True)
            seconds = time.perf_counter() - started
            x = data["x_test"].astype(np.float32)[..., None] / 255.0
            predicted = TFLiteRunner(args.out / engine / "model.tflite").predict(x).argmax(1)
            right[engine] = predicted == data["y_test"]
            fastest = min(seconds, rows.get(engine, {}).get("seconds", seconds))
            rows[engine] = {"seconds": fastest, "gzip": report.sizes["final"]["gzip_bytes"],
                            "accuracy": float(right[engine].mean())}
    paired = Paired.of(right["tf_keras"], right["keras3"]).to_dict()
    low, high = paired["change_pt_95"]
    print(f"{'':24}{'tf_keras':>12}{'keras3':>12}{'ratio':>10}")
    for key, unit in (("accuracy", "%"), ("gzip", " B"), ("seconds", " s")):
        a, b = rows["tf_keras"][key], rows["keras3"][key]
        shown = [f"{100 * v:.2f}%" if unit == "%" else f"{v:,.0f}{unit}" for v in (a, b)]
        print(f"{key:24}{shown[0]:>12}{shown[1]:>12}{b / a:>9.3f}x")
    print(f"keras3 - tf_keras accuracy: {low:+.2f} to {high:+.2f} pt (paired 95 %), "
          f"{paired['verdict']}")


if __name__ == "__main__":
    main()
