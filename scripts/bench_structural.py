"""Structural pruning and OBD on the MNIST CNN, measured side by side in one run.

1. Builds the shipped recipes (models/mnist_cnn_fast.toml for latency, mnist_cnn_small.toml
   for size), the plain tfmot reference (mnist_cnn.toml: 80% magnitude + int8) and int8 alone
   (the same recipe with --only train/quantize/convert/validate). All start from the same
   trained CNN, whose dense float32 .tflite is the baseline.
2. Runs every .tflite on this CPU in one validator pass: accuracy over the 2,000 test images
   and batch-1 latency with 1 thread, the models taking turns so they see the same machine.
3. Compares OBD with magnitude (unstructured) and with L1 (structural) at equal sparsity:
   test accuracy right after pruning, and after a short fine-tune.

Goals (issue 8): p50 >= 5x lower at <= 1 pt accuracy drop; gzip size >= 30x smaller at
<= 0.5 pt drop.

    python scripts/bench_structural.py [--out build/bench/structural] [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prune2edge import (
    ConstantSparsity,
    Convert,
    FineTune,
    Pipeline,
    Prune,
    Strip,
    Structural,
    Train,
    build,
    load_recipe,
)
from prune2edge.engine import native_log
from prune2edge.engine.prepare import prepare, seed_everything
from prune2edge.progress import Reporter
from prune2edge.sizes import Size
from prune2edge.tflite.validator import evaluate

ROOT = Path(__file__).resolve().parents[1]
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


def trained_cnn(work_dir: Path):
    """The CNN every variant starts from: mnist_cnn.toml's model after its train stage."""
    recipe = load_recipe(ROOT / "models" / "mnist_cnn.toml")
    seed_everything(recipe.seed)
    _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                     work_dir=work_dir, reporter=Reporter())
    train = next(s for s in recipe.stages if isinstance(s, Train))
    ctx, _ = Pipeline([train]).execute(ctx)
    return recipe.seed, ctx


def compare(files: dict[str, Path], data, runs: int) -> list[dict]:
    figures = evaluate(files, data, runs=runs, interpreters=10, memory=False)
    base = figures["dense float32 baseline"]
    base_size = Size.of_file(files["dense float32 baseline"])
    rows = []
    for name, f in figures.items():
        size = Size.of_file(files[name])
        rows.append({"model": name, "accuracy": f.accuracy,
                     "drop_pt": (base.accuracy - f.accuracy) * 100,
                     "p50_ms": f.latency.p50, "p50_range": f.latency.p50_range,
                     "speedup": base.latency.p50 / f.latency.p50, "gzip_bytes": size.gzip_bytes,
                     "gzip_ratio": base_size.gzip_bytes / size.gzip_bytes,
                     "kernels": f.latency.kernels})
    return rows


def criteria(seed: int, ctx, out: Path) -> list[dict]:
    """OBD vs magnitude / L1 at equal sparsity, from one trained CNN."""
    trials = [(f"unstructured {s:.0%}", c, Prune(
        schedule=ConstantSparsity(target_sparsity=s), criterion=c)) for s in (0.8, 0.9, 0.95)
        for c in ("magnitude", "obd")]
    trials += [(f"structural {r:.0%}", c, Structural(ratio=r, criterion=c))
               for r in (0.75, 0.875) for c in ("l1", "obd")]
    rows = []
    for label, criterion, stage in trials:
        stages = [stage, FineTune(epochs=2, learning_rate=5e-4)]
        stages += [Strip()] if isinstance(stage, Prune) else []
        report = Pipeline([*stages, Convert(sparse="off")]).run(
            ctx.model, ctx.data, out=out / f"{label}-{criterion}".replace(" ", "-"),
            force=True, seed=seed)
        pruned = report.stages[0]["outputs"]
        tuned = report.stages[1]["outputs"]
        rows.append({"pruning": label, "criterion": criterion,
                     "before_finetune": pruned["test_accuracy_before_finetune"],
                     "after_finetune": tuned["test_accuracy"]})
        print(f"{label:18} {criterion:9} {rows[-1]['before_finetune']:.2%} -> "
              f"{rows[-1]['after_finetune']:.2%}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "structural")
    parser.add_argument("--runs", type=int, default=2000, help="timed runs per model")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with native_log.captured(args.out / "native.log"):
        run(args)


def run(args: argparse.Namespace) -> None:
    files = build_variants(args.out)
    seed, ctx = trained_cnn(args.out)
    rows = compare(files, ctx.data, args.runs)
    print("\nMNIST CNN on this CPU, batch 1, 1 thread, all models timed in turns in one run")
    print(f"{'model':30}{'accuracy':>9}{'drop pt':>9}{'p50 ms':>9}{'faster':>8}"
          f"{'gzip B':>9}{'smaller':>9}")
    for r in rows:
        print(f"{r['model']:30}{r['accuracy']:>9.2%}{r['drop_pt']:>9.2f}{r['p50_ms']:>9.4f}"
              f"{r['speedup']:>7.2f}x{r['gzip_bytes']:>9,}{r['gzip_ratio']:>8.1f}x")
    print()
    for goal, (ratio, drop) in GOALS.items():
        key = "speedup" if goal == "latency" else "gzip_ratio"
        best = max((r for r in rows if r["drop_pt"] <= drop), key=lambda r: r[key])
        verdict = "met" if best[key] >= ratio else "NOT met"
        print(f"{goal} goal (>= {ratio:g}x at <= {drop} pt drop): {verdict}: "
              f"{best[key]:.1f}x by {best['model']} ({best['drop_pt']:+.2f} pt)")
    print("\nOBD vs magnitude/L1 at equal sparsity (test accuracy, before -> after a 2-epoch "
          "fine-tune):")
    trials = criteria(seed, ctx, args.out / "criteria")
    (args.out / "figures.json").write_text(json.dumps({"models": rows, "criteria": trials},
                                                      indent=2))


if __name__ == "__main__":
    main()
