"""What a microcontroller needs, side by side: TensorFlow Lite Micro's tensor arena and the
flash of int8 models as structural pruning narrows them.

Two microcontroller-class models with random weights (structure only, as the arena and flash
do not depend on the values): a visual-wake-words-style MobileNet (tf_keras.applications
MobileNet, alpha 0.25, 96x96 RGB, average pooling and a dense head giving logits:
`examples.vww_mobilenet`) and the DS-CNN of the ds_cnn_mnist example. At
structural ratios 0, 0.25 and 0.5 (L1, uniform), and for the MobileNet the per-group ratios
`prune2edge tune vww_mobilenet` found (the "tuned" row): the int8 file with int8 input and output,
as a board runs it (calibrated on 100 random inputs), TFLM's arena from its recording
allocator (activations and persistent parts) beside the arena predicted from the file
(`prune2edge.tflite.arena`), the op where the most activation bytes are
alive, and the flash; ratios are against ratio 0.

Goal (issue 18): width pays directly: at ratio 0.5 the arena's activation part halves where
pruned layers set it.

    python scripts/bench_micro.py
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchlib import cli
from prune2edge import examples
from prune2edge.engine.prepare import seed_everything
from prune2edge.keras.converter import QuantizationPlan, to_tflite
from prune2edge.keras.criteria import criterion
from prune2edge.keras.surgery import plan, rebuild, select
from prune2edge.recipe import bundled_recipes, load_recipe
from prune2edge.stages.structural import Structural
from prune2edge.tflite.arena import predict
from prune2edge.tflite.micro import MicroRunner
from prune2edge.tflite.model import TFLiteModel

RATIOS = (0.0, 0.25, 0.5)


def vww_recipe():
    return load_recipe(next(p for p in bundled_recipes() if p.stem == "vww_mobilenet"))


def tuned_ratios() -> dict[str, float]:
    """The ratios `prune2edge tune vww_mobilenet` found under the recipe's 64 KiB arena and
    128 KiB flash budgets, as models/vww_mobilenet.toml holds them."""
    stage = next(s for s in vww_recipe().stages if isinstance(s, Structural))
    return {"*": stage.ratio, **stage.ratios}


MODELS = {"MobileNet 0.25 (96x96, VWW-style)": (examples.vww_mobilenet, {"tuned": tuned_ratios}),
          "DS-CNN (ds_cnn_mnist)": (examples.ds_cnn_mnist, {})}


def measure(model, setting: str, ratios: dict[str, float]) -> dict:
    """The int8 file of `model` with `ratios` of each group's channels removed: TFLM's arena,
    the arena predicted from the file, the flash, and where the most activations are alive."""
    if any(ratios.values()):
        planned = plan(model)
        producers = [m for g in planned.prunable for m in g.members]
        scores = criterion("l1").channel_scores(planned.graph.model, producers)
        model = rebuild(planned.graph, select(planned, scores, {"*": 0.0, **ratios}, 4,
                                              "uniform", 1))
    samples = np.random.default_rng(0).uniform(0, 1, (100, *model.input_shape[1:]))
    quantization = QuantizationPlan("int8", io_type="int8", samples=samples.astype(np.float32))
    content = to_tflite(model, quantization, sparse=False)
    arena = MicroRunner(content, setting).arena()
    view = TFLiteModel.read(content)
    peak = max(view.activation_memory(), key=lambda op: op.live_bytes)
    return {"setting": setting, "arena": arena.total, "predicted": predict(view).total,
            "activations": arena.head, "persistent": arena.tail, "flash": len(content),
            "peak_at": f"{peak.op} {peak.output.split(';')[0]}"}


def run(args: argparse.Namespace) -> None:
    results = {}
    print(f"{'model':36}{'setting':>8}{'arena B':>10}{'predicted':>10}{'activ. B':>10}"
          f"{'persist. B':>11}{'flash B':>10}{'arena':>8}{'activ.':>8}{'flash':>8}")
    for name, (factory, extra) in MODELS.items():
        seed_everything(0)
        model = factory()
        settings = {f"{r:.2f}": {"*": r} for r in RATIOS} | {k: f() for k, f in extra.items()}
        rows = [measure(model, setting, ratios) for setting, ratios in settings.items()]
        first = rows[0]
        for row in rows:
            print(f"{name:36}{row['setting']:>8}{row['arena']:>10,}{row['predicted']:>10,}"
                  f"{row['activations']:>10,}{row['persistent']:>11,}{row['flash']:>10,}"
                  f"{first['arena'] / row['arena']:>7.2f}x"
                  f"{first['activations'] / row['activations']:>7.2f}x"
                  f"{first['flash'] / row['flash']:>7.2f}x  {row['peak_at']}", flush=True)
        results[name] = rows
    (args.out / "micro.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    for name, rows in results.items():
        half = next(row for row in rows if row["setting"] == f"{RATIOS[-1]:.2f}")
        gain = rows[0]["activations"] / half["activations"]
        print(f"{name}: at ratio {RATIOS[-1]} the arena's activation part shrinks "
              f"{gain:.2f}x ({'halves' if gain >= 1.9 else 'does not halve'}; the most "
              f"activation bytes are alive at {half['peak_at']})")
        tuned = next((row for row in rows if row["setting"] == "tuned"), None)
        if tuned is not None:
            budgets = vww_recipe().budgets
            fits = (tuned["arena"] <= budgets.max_arena_bytes
                    and tuned["flash"] <= budgets.max_flash_bytes)
            print(f"{name}: tuned, arena {tuned['arena']:,} B and flash {tuned['flash']:,} B "
                  f"{'fit' if fits else 'DO NOT FIT'} the recipe's {budgets.max_arena_bytes:,} "
                  f"B and {budgets.max_flash_bytes:,} B")
        exact = sum(row["predicted"] == row["arena"] for row in rows)
        print(f"{name}: the arena predicted from the file equals TFLM's on {exact} of "
              f"{len(rows)} files")
    print("settings: a uniform structural ratio, or the per-group ratios tune found ('tuned': "
          "64 KiB arena and 128 KiB flash budgets); ratios are the first row's figure / this "
          "row's")


if __name__ == "__main__":
    cli(__doc__, "micro", run)
