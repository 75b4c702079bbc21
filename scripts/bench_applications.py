"""Structural pruning on every tf_keras.applications family, measured side by side in one run.

For the smallest member of each family (random weights, small inputs, 10 classes): how many
producers can lose channels, the parameters and multiply-accumulates kept at ratio 0.5 (L1,
uniform, min_width 4), and the float32 .tflite p50 latency of the dense model, the pruned one,
and the pruned one with widths rounded up to multiples of 8 (batch 1, 1 thread; the three
take turns over fresh interpreters, so they see the same machine), and the largest absolute
difference between the pruned .tflite's outputs and the pruned Keras model's on two random
images (tests/test_applications.py checks this only for the families that hold the zoo's layer
types between them; here every family is checked).

Goals: at ratio 0.5 every family keeps at most 40% of its MACs (issue 13); every pruned
.tflite agrees with its Keras model within 1e-4.

    python scripts/bench_applications.py [--families MobileNetV2 ResNet] [--runs 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from prune2edge import native_log
from prune2edge.engine.prepare import seed_everything
from prune2edge.keras import zoo
from prune2edge.keras.converter import to_tflite
from prune2edge.keras.criteria import criterion
from prune2edge.keras.surgery import plan, rebuild, select, shrink_report
from prune2edge.tflite.runner import TFLiteRunner, measure_latency

RATIO, MIN_WIDTH, ROUND_TO = 0.5, 4, 8


def measure(family: str, runs: int, work: Path) -> dict:
    seed_everything(0)
    model = zoo.build(family)
    planned = plan(model)
    producers = [m for g in planned.prunable for m in g.members]
    total = sum(len(g.members) for g in planned.groups)
    scores = criterion("l1").channel_scores(planned.graph.model, producers)
    files = {"dense": to_tflite(model, None, sparse=False)}
    row: dict = {"family": family, "model": model.name, "input": model.input_shape[1],
                 "prunable": len(producers), "producers": total}
    for name, round_to in (("pruned", 1), (f"round{ROUND_TO}", ROUND_TO)):
        keep = select(planned, scores, {"*": RATIO}, MIN_WIDTH, "uniform", round_to)
        smaller = rebuild(planned.graph, keep)
        files[name] = to_tflite(smaller, None, sparse=False)
        if round_to == 1:
            pruned = smaller
            shrunk = shrink_report(planned, smaller, keep)
            row["params_kept"] = shrunk["params_after"] / shrunk["params_before"]
            row["macs_kept"] = shrunk["macs_after"] / shrunk["macs_before"]
    runners = []
    for name, content in files.items():
        path = work / f"{family}-{name}.tflite"
        path.write_bytes(content)
        runners.append(TFLiteRunner(path))
    images = np.random.default_rng(0).uniform(0, 255, (2, *runners[0].input_shape))
    images = images.astype(np.float32)
    row["max_error"] = float(np.max(np.abs(runners[1].predict(images)
                                           - pruned.predict(images, verbose=0))))
    sample = images[:1]
    latencies = measure_latency(runners, sample, runs=runs, warmup=10,
                                interpreters=5)
    for name, latency in zip(files, latencies, strict=True):
        row[f"p50_{name}"] = latency.p50
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="*", default=list(zoo.FAMILIES))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("build/bench/applications"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    header = (f"{'family':18}{'model':20}{'in':>4}{'prunable':>10}{'params':>8}{'MACs':>7}"
              f"{'p50 dense':>11}{'pruned':>9}{'faster':>8}{'round8':>9}{'faster':>8}"
              f"{'max err':>9}")
    print(header)
    with tempfile.TemporaryDirectory() as work, native_log.captured(args.out / "native.log"):
        for family in args.families:
            row = measure(family, args.runs, Path(work))
            rows.append(row)
            dense = row["p50_dense"]
            print(f"{family:18}{row['model'][:19]:20}{row['input']:>4}"
                  f"{row['prunable']:>5}/{row['producers']:<4}{row['params_kept']:>8.0%}"
                  f"{row['macs_kept']:>7.0%}{dense:>11.3f}{row['p50_pruned']:>9.3f}"
                  f"{dense / row['p50_pruned']:>7.2f}x{row[f'p50_round{ROUND_TO}']:>9.3f}"
                  f"{dense / row[f'p50_round{ROUND_TO}']:>7.2f}x{row['max_error']:>9.1e}",
                  flush=True)
    (args.out / "applications.json").write_text(json.dumps(rows, indent=2) + "\n")
    worst = max(rows, key=lambda r: r["macs_kept"])
    print(f"\nratio {RATIO}: at most {worst['macs_kept']:.1%} of MACs kept ({worst['family']}); "
          f"goal <= 40%: {'met' if worst['macs_kept'] <= 0.40 else 'NOT met'}")
    error = max(rows, key=lambda r: r["max_error"])
    print(f"pruned .tflite vs Keras: at most {error['max_error']:.1e} ({error['family']}); "
          f"goal <= 1e-4: {'met' if error['max_error'] <= 1e-4 else 'NOT met'}")
    print("p50 in ms, float32, batch 1, 1 thread; 'faster' is dense p50 / pruned p50")


if __name__ == "__main__":
    main()
