"""`prune2edge tune` on the MNIST CNN against the hand-tuned recipe, side by side in one run.

1. Builds models/mnist_cnn_tune.toml as written (one plain build: the wall-time unit), runs
   `tune` on it, and builds the hand-tuned models/mnist_cnn_fast.toml.
2. Times the dense float32 baseline, the hand-tuned and the tuned .tflite in turns in one
   validator pass (batch 1, 1 thread) and scores them on the test split.
3. Prints the latency model's error on the finalists (predicted vs measured p50).
4. The size objective: models/mnist_cnn_tune_small.toml (structural ratios searched, then the
   dense layer's sparsity and the cluster count, before quantization-aware training) built
   plainly and tuned, against the hand-made models/mnist_cnn_small.toml and
   models/mnist_cnn_clustered.toml; gzip bytes and test accuracy side by side.
5. Distillation: from the trained CNN (models/mnist_cnn_trained.keras), structural 75% and
   87.5% (L1), then the same 2-epoch fine-tune with and without the dense teacher.

Goals (issue 15): tuned p50 >= 8x vs dense float32 (and at least the hand-tuned recipe's) at
<= 1 pt test drop; size >= 200x smaller gzip than dense float32 at <= 0.5 pt; each tune
within 8x the wall time of one plain build; predictions within 15%.

    python scripts/bench_tune.py [--out build/bench/tune] [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from benchlib import ROOT, cli, test_data
from prune2edge import FineTune, Pipeline, Structural, build, load_recipe
from prune2edge.engine.prepare import prepare, seed_everything
from prune2edge.progress import Reporter
from prune2edge.tflite.validator import evaluate
from prune2edge.tune import tune

T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def distillation(out: Path) -> list[dict]:
    recipe = load_recipe(ROOT / "models" / "mnist_cnn_calibrated.toml")  # the trained CNN
    seed_everything(recipe.seed)
    _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                     work_dir=out, reporter=Reporter())
    rows = []
    for ratio in (0.75, 0.875):
        for teacher in ("none", "baseline"):
            seed_everything(recipe.seed)
            stages = [Structural(ratio=ratio),
                      FineTune(epochs=2, learning_rate=5e-4, teacher=teacher)]
            _, records = Pipeline(stages).execute(ctx)
            rows.append({"ratio": ratio, "teacher": teacher,
                         "test_accuracy": records[1].outputs["test_accuracy"]})
    return rows


def run(args: argparse.Namespace) -> None:
    recipe = ROOT / "models" / "mnist_cnn_tune.toml"
    _, plain_s = timed(lambda: build(recipe, args.out / "plain", force=True))
    print(f"one plain build of mnist_cnn_tune.toml: {plain_s:.0f} s", flush=True)
    result, tune_s = timed(lambda: tune(recipe, args.out / "tune", force=True))
    print(f"tune: {tune_s:.0f} s ({tune_s / plain_s:.1f}x the plain build), "
          f"{len(result.search.trials)} trials", flush=True)
    _, fast_s = timed(lambda: build(ROOT / "models" / "mnist_cnn_fast.toml",
                                    args.out / "fast", force=True))
    files = {"dense float32": args.out / "plain" / "baseline.tflite",
             "hand-tuned (mnist_cnn_fast)": args.out / "fast" / "model.tflite",
             "tuned": args.out / "tune" / "build" / "model.tflite"}
    data = test_data(recipe, args.out)
    figures = evaluate(files, data, runs=args.runs, interpreters=10, memory=False)
    base = figures["dense float32"]
    print("\nMNIST CNN, test split, batch 1, 1 thread, timed in turns in one run")
    print(f"{'model':30}{'accuracy':>9}{'change pt':>10}{'p50 ms':>9}{'faster':>8}")
    rows = []
    for name, f in figures.items():
        rows.append({"model": name, "accuracy": f.accuracy, "p50_ms": f.latency.p50,
                     "change_pt": (f.accuracy - base.accuracy) * 100,
                     "speedup": base.latency.p50 / f.latency.p50})
        r = rows[-1]
        print(f"{name:30}{r['accuracy']:>9.2%}{r['change_pt']:>+10.2f}{r['p50_ms']:>9.4f}"
              f"{r['speedup']:>7.2f}x")
    print("\nlatency model on the finalists (validation split):")
    for f in result.search.finalists:
        if f.get("predicted_p50_ms"):
            error = f["predicted_p50_ms"] / f["p50_ms"] - 1
            print(f"  {f['ratios']}: predicted {f['predicted_p50_ms']:.4f} ms, measured "
                  f"{f['p50_ms']:.4f} ms ({error:+.1%})")
    tuned, hand = rows[-1], rows[1]
    met = tuned["speedup"] >= 8 and tuned["change_pt"] >= -1
    print(f"\ngoal tuned >= 8x at <= 1 pt: {'met' if met else 'NOT met'}: "
          f"{tuned['speedup']:.2f}x, {tuned['change_pt']:+.2f} pt (hand-tuned "
          f"{hand['speedup']:.2f}x, {hand['change_pt']:+.2f} pt)")
    print(f"goal tune <= 8x one plain build: {'met' if tune_s <= 8 * plain_s else 'NOT met'}: "
          f"{tune_s / plain_s:.1f}x")
    sizes = size_objective(args.out / "size")
    print("\ndistillation (test accuracy after the same 2-epoch fine-tune):")
    distilled = distillation(args.out / "distill")
    for row in distilled:
        print(f"  structural {row['ratio']:.1%}, teacher {row['teacher']:8}: "
              f"{row['test_accuracy']:.2%}")
    (args.out / "figures.json").write_text(json.dumps(
        {"models": rows, "tune_seconds": tune_s, "plain_build_seconds": plain_s,
         "hand_tuned_build_seconds": fast_s, "size": sizes, "distillation": distilled},
        indent=2))


def size_objective(out: Path) -> dict:
    """Step 4: tune for size against the hand-made recipes, all from test reports."""
    recipe = ROOT / "models" / "mnist_cnn_tune_small.toml"
    plain, plain_s = timed(lambda: build(recipe, out / "plain", force=True))
    result, tune_s = timed(lambda: tune(recipe, out / "tune", force=True))
    hand = {name: build(ROOT / "models" / f"{name}.toml", out / name, force=True)
            for name in ("mnist_cnn_small", "mnist_cnn_clustered")}
    dense = plain.sizes["baseline"]["gzip_bytes"]
    print(f"\nsize objective: one plain build of mnist_cnn_tune_small.toml {plain_s:.0f} s, "
          f"tune {tune_s:.0f} s ({tune_s / plain_s:.1f}x), {len(result.search.trials)} trials")
    print(f"{'model':30}{'accuracy':>9}{'change pt':>10}{'gzip B':>9}{'smaller':>9}")
    rows = {"dense float32": (plain.accuracy["baseline"], dense)}
    for name, report in (*((f"hand-made ({k})", v) for k, v in hand.items()),
                         ("tuned", result.report)):
        rows[name] = (report.accuracy["tflite"], report.sizes["final"]["gzip_bytes"])
    for name, (accuracy, gzip_bytes) in rows.items():
        change = (accuracy - plain.accuracy["baseline"]) * 100
        print(f"{name:30}{accuracy:>9.2%}{change:>+10.2f}{gzip_bytes:>9,}"
              f"{dense / gzip_bytes:>8.1f}x")
    print("finalists (validation split, after the recipe's own stages):")
    for f in result.search.finalists[1:]:
        print(f"  step {f.step or 0:>2} {f.params:>7,} params {f.describe()}: "
              f"{f.validation_accuracy:.2%}, {f.gzip_bytes:,} gzip B, "
              f"{'within' if f.within_budget else 'outside'} the budget")
    accuracy, gzip_bytes = rows["tuned"]
    change = (accuracy - plain.accuracy["baseline"]) * 100
    met = dense / gzip_bytes >= 200 and change >= -0.5
    print(f"goal size >= 200x at <= 0.5 pt: {'met' if met else 'NOT met'}: "
          f"{dense / gzip_bytes:.1f}x, {change:+.2f} pt")
    print(f"goal tune <= 8x one plain build: {'met' if tune_s <= 8 * plain_s else 'NOT met'}: "
          f"{tune_s / plain_s:.1f}x")
    return {"models": {k: {"accuracy": a, "gzip_bytes": g} for k, (a, g) in rows.items()},
            "tune_seconds": tune_s, "plain_build_seconds": plain_s,
            "finalists": [f.to_dict() for f in result.search.finalists]}


if __name__ == "__main__":
    cli(__doc__, "tune", run, runs=2000)
