"""Quantization-aware training and clustering, measured side by side in one run.

1. Where post-training int8 hurts: a CNN trained on the bundled MNIST, then given an outlier
   channel that leaves its Keras function unchanged (one output channel of `conv2` times 100,
   the head's weights from it divided by 100; the quantization tests' model, on all the
   data). One activation scale per tensor then leaves the other channels a step or two.
   Built five ways from the same file: float32, post-training int8 (PTQ), PTQ with accuracy
   control (the worst ops kept in float), quantization-aware training (QAT, 3 epochs), and
   QAT distilled from the float model (`teacher = "baseline"`, `distill_weight = 0.9`); and
   that distilled QAT in the keras3 engine, on a Keras 3 twin of the same model (same
   layers, same weights), int8 faked in its own layer calls instead of tfmot's wrappers.
2. Where size matters: the MNIST CNN through the shipped recipes — `mnist_cnn_small`
   (structural 85%, 60% sparsity, int8) and `mnist_cnn_clustered` (structural 80%, 95%
   sparsity in the big dense layer, clustering to 8 values, PCQAT with one int8 scale per
   kernel, names stripped).
3. The two engines: the clustered pipeline's first version (structural 75%, 95% of the
   dense layer, 8 clusters, PCQAT per channel) on the Keras 3 MNIST CNN, built with
   `engine = "keras3"` (clustered and trained quantization-aware as it is) and `engine =
   "tf_keras"` (translated, clustered and quantized by tfmot): same accuracy and size
   expected.
All .tflite files then run in one validator pass (accuracy over the 2,000 test images, batch-1
latency with 1 thread, in turns).

Goals (issue 29): PTQ loses >= 1.5 pt and QAT stays within 0.3 pt of float at the all-int8
size; the clustered MNIST CNN >= 300x smaller gzipped than its dense float32 baseline at
<= 0.5 pt drop.

    python scripts/bench_collab.py [--out build/bench/collab] [--runs 500]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchlib import ROOT, cli, test_data
from prune2edge import _compat, build, examples
from prune2edge.data import DataSpec, load
from prune2edge.sizes import Size
from prune2edge.tflite.model import TFLiteModel
from prune2edge.tflite.validator import evaluate

OUTLIER = 100.0  # post-training int8 loses ~2 pt (the int8 tests' 300 loses ~28)
OUTLIER_RECIPE = """
version = 1
name = "{name}"
seed = 0
[model]
source = "{model}"
engine = "{engine}"
[data]
source = "builtin:mnist"
{stages}
[[stages]]
kind = "convert"
sparse = "off"
[[stages]]
kind = "validate"
min_agreement = 0.0  # PTQ disagrees with Keras here: that is what is measured
runs = 20
memory = false
"""
QUANTIZE = '[[stages]]\nkind = "quantize"\nmode = "int8"\n'
OUTLIER_VARIANTS = {
    "float32": "",
    "PTQ int8": QUANTIZE,
    "PTQ int8 + accuracy control": QUANTIZE + "accuracy_control = true\nmax_drop = 0.3\n",
    "QAT": '[[stages]]\nkind = "qat"\nepochs = 3\n',
    "QAT distilled": '[[stages]]\nkind = "qat"\nepochs = 3\nteacher = "baseline"\n'
                     "distill_weight = 0.9\n",
}
KERAS3_VARIANT = "QAT distilled, keras3 engine"  # OUTLIER_VARIANTS["QAT distilled"], there
SIZE_RECIPES = {"mnist_cnn_small (int8)": "mnist_cnn_small.toml",
                "mnist_cnn_clustered (PCQAT)": "mnist_cnn_clustered.toml"}
QAT_GAP = 0.3  # points QAT may lose against float
PTQ_LOSS = 1.5  # points PTQ must lose for the comparison to mean something
SIZE_GOAL = (300.0, 0.5)  # gzip ratio at least, drop at most


def outlier_model(path: Path) -> Path:
    """The quantization tests' outlier CNN, trained on the bundled MNIST (seeded)."""
    _compat.keras().utils.set_random_seed(0)
    arrays = load(DataSpec(), ROOT, (28, 28)).arrays
    model = examples.outlier_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(arrays["x_train"][..., None] / 255.0, arrays["y_train"], epochs=5,
              batch_size=32, verbose=0)
    examples.add_outlier_channel(model, OUTLIER)
    model.save(path)
    return path


def keras3_twin(source: Path, path: Path) -> Path:
    """`examples.outlier_cnn` in Keras 3 holding the weights of the model at `source`: the
    same function, for the keras3 engine."""
    twin = examples.outlier_cnn_keras3()
    twin.set_weights(_compat.keras().models.load_model(source).get_weights())
    twin.save(path)
    return path


def build_outlier(out: Path) -> dict[str, Path]:
    model = outlier_model(out / "outlier.keras")
    twin = keras3_twin(model, out / "outlier-keras3.keras")
    files = {}
    variants = [(name, stages, model, "auto") for name, stages in OUTLIER_VARIANTS.items()]
    variants.append((KERAS3_VARIANT, OUTLIER_VARIANTS["QAT distilled"], twin, "keras3"))
    for name, stages, source, engine in variants:
        slug = name.lower().replace(" + ", "-").replace(", ", "-").replace(" ", "-")
        recipe = out / f"{slug}.toml"
        recipe.write_text(OUTLIER_RECIPE.format(name=slug, model=source, engine=engine,
                                                stages=stages))
        report = build(recipe, out / slug, force=True, log_native=True)
        files.setdefault("outlier float32 (Keras file)", out / slug / "baseline.tflite")
        files[f"outlier {name}"] = out / slug / "model.tflite"
        print(f"built outlier {name}: {report.seconds:.0f} s", flush=True)
    return files


def build_size(out: Path) -> dict[str, Path]:
    files = {}
    for name, recipe in SIZE_RECIPES.items():
        target = out / recipe.removesuffix(".toml")
        report = build(ROOT / "models" / recipe, target, force=True, log_native=True)
        files.setdefault("MNIST CNN dense float32 baseline", target / "baseline.tflite")
        files[name] = target / "model.tflite"
        print(f"built {name}: {report.seconds:.0f} s", flush=True)
    return files


ENGINES_RECIPE = """
version = 1
name = "clustered-{engine}"
seed = 0

[model]
source = "prune2edge.examples:mnist_cnn_keras3"
engine = "{engine}"

[data]
source = "builtin:mnist"

[[stages]]
kind = "train"
epochs = 5

[[stages]]
kind = "structural"
criterion = "l1"
ratio = 0.75

[[stages]]
kind = "finetune"
epochs = 15
learning_rate = 0.0005

[[stages]]
kind = "prune"
layers = ["dense"]
schedule = {{ kind = "polynomial_decay", final_sparsity = 0.95, end_step = "70%" }}

[[stages]]
kind = "finetune"
epochs = 10
learning_rate = 0.0005

[[stages]]
kind = "strip"

[[stages]]
kind = "cluster"
number_of_clusters = 8

[[stages]]
kind = "finetune"
epochs = 4
learning_rate = 0.0002

[[stages]]
kind = "strip"

[[stages]]
kind = "qat"
epochs = 3

[[stages]]
kind = "convert"
sparse = "auto"
strip_names = true
"""


def build_engines(out: Path) -> dict[str, Path]:
    files = {}
    for engine in ("keras3", "tf_keras"):
        recipe = out / f"clustered-{engine}.toml"
        recipe.write_text(ENGINES_RECIPE.format(engine=engine))
        report = build(recipe, out / f"clustered-{engine}", force=True, log_native=True)
        files.setdefault("Keras 3 MNIST CNN dense float32", out / f"clustered-{engine}" /
                         "baseline.tflite")
        files[f"clustered, {engine} engine"] = out / f"clustered-{engine}" / "model.tflite"
        print(f"built clustered-{engine}: {report.seconds:.0f} s", flush=True)
    return files


def table(files: dict[str, Path], data, runs: int, reference: str) -> list[dict]:
    figures = evaluate(files, data, runs=runs, interpreters=5, memory=False)
    base, base_size = figures[reference], Size.of_file(files[reference])
    rows = []
    for name, f in figures.items():
        size = Size.of_file(files[name])
        float_ops = len(TFLiteModel.read(files[name].read_bytes()).float_ops())
        rows.append({"model": name, "accuracy": f.accuracy,
                     "change_pt": (f.accuracy - base.accuracy) * 100, "p50_ms": f.latency.p50,
                     "gzip_bytes": size.gzip_bytes,
                     "gzip_ratio": base_size.gzip_bytes / size.gzip_bytes,
                     "float_ops": float_ops})
    print(f"\n{'model':40}{'accuracy':>9}{'change pt':>10}{'p50 ms':>9}{'gzip B':>9}"
          f"{'smaller':>9}{'float ops':>10}")
    for r in rows:
        print(f"{r['model']:40}{r['accuracy']:>9.2%}{r['change_pt']:>+10.2f}{r['p50_ms']:>9.4f}"
              f"{r['gzip_bytes']:>9,}{r['gzip_ratio']:>8.1f}x{r['float_ops']:>10}")
    return rows


def run(args: argparse.Namespace) -> None:
    data = test_data(ROOT / "models" / "mnist_cnn.toml", args.out)
    outlier = table(build_outlier(args.out), data, args.runs,
                    "outlier float32 (Keras file)")
    size = table(build_size(args.out), data, args.runs, "MNIST CNN dense float32 baseline")
    engines = table(build_engines(args.out), data, args.runs, "Keras 3 MNIST CNN dense float32")
    by_name = {r["model"]: r for r in outlier}
    ptq = by_name["outlier PTQ int8"]
    print(f"\nPTQ loses {-ptq['change_pt']:.2f} pt (goal >= {PTQ_LOSS}): "
          f"{'met' if -ptq['change_pt'] >= PTQ_LOSS else 'NOT met'}")
    for name in ("QAT distilled", KERAS3_VARIANT):
        qat = by_name[f"outlier {name}"]
        met = qat["change_pt"] >= -QAT_GAP and qat["float_ops"] == 0
        print(f"{name} within {QAT_GAP} pt of float, all int8: {'met' if met else 'NOT met'} "
              f"({qat['change_pt']:+.2f} pt, {qat['gzip_bytes']:,} gzip B vs PTQ's "
              f"{ptq['gzip_bytes']:,})")
    ratio, drop = SIZE_GOAL
    best = max((r for r in size if r["change_pt"] >= -drop), key=lambda r: r["gzip_ratio"])
    print(f"size goal (>= {ratio:g}x at <= {drop} pt drop): "
          f"{'met' if best['gzip_ratio'] >= ratio else 'NOT met'}: {best['gzip_ratio']:.1f}x "
          f"by {best['model']} ({best['change_pt']:+.2f} pt)")
    (args.out / "figures.json").write_text(json.dumps(
        {"outlier": outlier, "size": size, "engines": engines}, indent=2))


if __name__ == "__main__":
    cli(__doc__, "collab", run, runs=500)
