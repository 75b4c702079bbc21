"""What a microcontroller needs, side by side: TensorFlow Lite Micro's tensor arena and the
flash of int8 models as structural pruning narrows them.

Two microcontroller-class models with random weights (structure only, as the arena and flash
do not depend on the values): a visual-wake-words-style MobileNet (tf_keras.applications
MobileNet, alpha 0.25, 96x96 RGB, average pooling and a 2-class dense head giving logits: TFLM
aborts on this model's int8 softmax) and the DS-CNN of the ds_cnn_mnist example. At
structural ratios 0, 0.25 and 0.5 (L1, uniform): the int8 file with int8 input and output,
as a board runs it (calibrated on 100 random inputs), TFLM's arena from its recording
allocator (activations and persistent parts), the op where the most activation bytes are
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
from prune2edge import _compat, examples
from prune2edge.engine.prepare import seed_everything
from prune2edge.keras.converter import QuantizationPlan, to_tflite
from prune2edge.keras.criteria import criterion
from prune2edge.keras.surgery import plan, rebuild, select
from prune2edge.tflite.micro import MicroRunner
from prune2edge.tflite.model import TFLiteModel

RATIOS = (0.0, 0.25, 0.5)


def vww_mobilenet():
    keras = _compat.keras()
    base = keras.applications.MobileNet(input_shape=(96, 96, 3), alpha=0.25, weights=None,
                                        include_top=False, pooling="avg")
    return keras.Model(base.input, keras.layers.Dense(2)(base.output), name="vww_mobilenet")


MODELS = {"MobileNet 0.25 (96x96, VWW-style)": vww_mobilenet,
          "DS-CNN (ds_cnn_mnist)": examples.ds_cnn_mnist}


def measure(model, ratio: float) -> dict:
    if ratio:
        planned = plan(model)
        producers = [m for g in planned.prunable for m in g.members]
        scores = criterion("l1").channel_scores(planned.graph.model, producers)
        model = rebuild(planned.graph, select(planned, scores, {"*": ratio}, 4, "uniform", 1))
    samples = np.random.default_rng(0).uniform(0, 1, (100, *model.input_shape[1:]))
    quantization = QuantizationPlan("int8", io_type="int8", samples=samples.astype(np.float32))
    content = to_tflite(model, quantization, sparse=False)
    arena = MicroRunner(content, f"ratio {ratio}").arena()
    peak = max(TFLiteModel.read(content).activation_memory(), key=lambda op: op.live_bytes)
    return {"ratio": ratio, "arena": arena.total, "activations": arena.head,
            "persistent": arena.tail, "flash": len(content),
            "peak_at": f"{peak.op} {peak.output.split(';')[0]}"}


def run(args: argparse.Namespace) -> None:
    results = {}
    print(f"{'model':36}{'ratio':>6}{'arena B':>10}{'activ. B':>10}{'persist. B':>11}"
          f"{'flash B':>10}{'arena':>8}{'activ.':>8}{'flash':>8}")
    for name, factory in MODELS.items():
        seed_everything(0)
        model = factory()
        rows = [measure(model, ratio) for ratio in RATIOS]
        first = rows[0]
        for row in rows:
            print(f"{name:36}{row['ratio']:>6.2f}{row['arena']:>10,}{row['activations']:>10,}"
                  f"{row['persistent']:>11,}{row['flash']:>10,}"
                  f"{first['arena'] / row['arena']:>7.2f}x"
                  f"{first['activations'] / row['activations']:>7.2f}x"
                  f"{first['flash'] / row['flash']:>7.2f}x  {row['peak_at']}", flush=True)
        results[name] = rows
    (args.out / "micro.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    for name, rows in results.items():
        gain = rows[0]["activations"] / rows[-1]["activations"]
        print(f"{name}: at ratio {RATIOS[-1]} the arena's activation part shrinks "
              f"{gain:.2f}x ({'halves' if gain >= 1.9 else 'does not halve'}; the most "
              f"activation bytes are alive at {rows[-1]['peak_at']})")
    print("ratios are the ratio-0 figure / this row's")


if __name__ == "__main__":
    cli(__doc__, "micro", run)
