"""Every keras.applications family through structural pruning, in both engines, side by side.

The smallest member of each family, built and saved by Keras 3 itself (random weights, small
inputs, 10 classes), goes through `prune2edge build`: structural ratio 0.5 (L1, uniform),
int8 quantization, conversion and validation on the bundled MNIST (resized to RGB). Once in
the keras3 engine (the model as it is) and once in the tf_keras engine (translated), one after
the other. Per engine: the share of MACs kept, the int8 .tflite's gzip size, how the .tflite
agrees with its Keras model — the largest difference of their softmax outputs, and top-1
agreement, which means little here: random weights give near-uniform outputs, whose argmax
int8 rounding flips (DenseNet121 agrees on 3% in both engines, 0.002 apart) — and the
build's wall time; whether the .tflite holds a Flex or custom op.

Goals (issue 28): every family builds in the keras3 engine keeping <= 40 % of its MACs, with
builtin ops only.

    python scripts/bench_keras3_applications.py [--families MobileNetV3Small VGG16]
        [--engines keras3 tf_keras] [--out build/bench/keras3-applications]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from prune2edge import build
from prune2edge.tflite.model import TFLiteModel

# The smallest member of each family, and the smallest input it accepts.
FAMILIES = {"ConvNeXtTiny": 32, "DenseNet121": 32, "EfficientNetB0": 32,
            "EfficientNetV2B0": 32, "InceptionResNetV2": 75, "InceptionV3": 75, "MobileNet": 32,
            "MobileNetV2": 32, "MobileNetV3Small": 32, "MobileNetV3Large": 32,
            "NASNetMobile": 32, "ResNet50": 32, "ResNet50V2": 32, "VGG16": 32, "Xception": 71}
WRITE = """
import sys, keras
name, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keras.utils.set_random_seed(0)
keras.applications.__dict__[name](weights=None, input_shape=(size, size, 3),
                                  classes=10).save(path)
"""
RECIPE = """
version = 1
name = "{name}-{engine}"
seed = 0
[model]
source = "{source}"
engine = "{engine}"
[data]
source = "builtin:mnist"
[[stages]]
kind = "structural"
ratio = 0.5
[[stages]]
kind = "quantize"
mode = "int8"
[[stages]]
kind = "convert"
sparse = "off"
[[stages]]
kind = "validate"
runs = 50
min_agreement = 0.0  # random weights: near-uniform outputs, so top-1 flips mean little
"""


def save(name: str, path: Path) -> None:
    """The family's smallest member saved by Keras 3 (in a process where it is tf.keras)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    done = subprocess.run([sys.executable, "-c", WRITE, name, str(FAMILIES[name]), str(path)],
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])


def measure(name: str, engine: str, source: Path, out: Path) -> dict:
    recipe = out / f"{name}-{engine}.toml"
    recipe.write_text(RECIPE.format(name=name, engine=engine, source=source))
    started = time.perf_counter()
    report = build(recipe, out / f"{name}-{engine}", force=True, log_native=True)
    seconds = time.perf_counter() - started
    structural = report.structural[0]
    ops = set(TFLiteModel.of_file(out / f"{name}-{engine}" / "model.tflite").ops())
    return {"macs_kept": structural["macs_after"] / structural["macs_before"],
            "gzip": report.sizes["final"]["gzip_bytes"], "agreement": report.agreement["top1"],
            "max_abs_diff": report.agreement["max_abs_diff"],
            "seconds": seconds, "custom_ops": sorted(o for o in ops if "CUSTOM" in o)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--engines", nargs="*", default=["keras3", "tf_keras"])
    parser.add_argument("--out", type=Path, default=Path("build/bench/keras3-applications"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'family':18}" + "".join(f"{engine + ' MACs':>14}{'gzip':>11}{'diff':>8}"
                                     f"{'agree':>7}{'s':>6}" for engine in args.engines)
          + "  custom ops")
    rows = {}
    for name in args.families:
        source = (args.out / f"{name}.keras").resolve()
        save(name, source)
        rows[name] = {engine: measure(name, engine, source, args.out) for engine in args.engines}
        cells = "".join(f"{r['macs_kept']:>14.1%}{r['gzip']:>11,}{r['max_abs_diff']:>8.4f}"
                        f"{r['agreement']:>7.0%}{r['seconds']:>6.0f}" for r in rows[name].values())
        custom = sorted({op for r in rows[name].values() for op in r["custom_ops"]})
        print(f"{name:18}{cells}  {', '.join(custom) or 'none'}", flush=True)
    (args.out / "keras3-applications.json").write_text(json.dumps(rows, indent=2) + "\n")
    if "keras3" in args.engines:
        worst = max(rows, key=lambda n: rows[n]["keras3"]["macs_kept"])
        kept = rows[worst]["keras3"]["macs_kept"]
        custom = [n for n in rows if rows[n]["keras3"]["custom_ops"]]
        print(f"\nkeras3 engine: {len(rows)} families built; at most {kept:.1%} of MACs kept "
              f"({worst}), goal <= 40%: {'met' if kept <= 0.40 else 'NOT met'}; Flex/custom "
              f"ops in {', '.join(custom) or 'none'}")


if __name__ == "__main__":
    main()
