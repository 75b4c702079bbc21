"""The validator's accuracy pass vs Keras `evaluate`, same model, same 2,000 test images.

Goal: the validator (LiteRT, batched) takes no longer than Keras' own evaluate (ratio <= 1.0),
so validating every build costs less than the evaluation users already run.

    python scripts/bench_validator.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from prune2edge import _compat, data, examples, native_log
from prune2edge.engine.prepare import seed_everything
from prune2edge.keras.converter import QuantizationPlan, to_tflite
from prune2edge.keras.model import input_shape
from prune2edge.tflite.runner import TFLiteRunner


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: graph tracing, arena allocation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with native_log.discarded():  # TensorFlow's and LiteRT's C++ logs
        run(args.repeats)


def run(repeats: int) -> None:
    seed_everything(0)
    keras = _compat.keras()
    model = examples.mnist_cnn()
    raw = data.load(data.DataSpec(), Path.cwd(), input_shape(model))
    dataset = data.fit_to_model(raw, input_shape(model), 10)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(dataset.x_train, dataset.y_train, epochs=1, verbose=0)
    x, y = dataset.x_test, dataset.y_test

    def keras_evaluate():
        return model.evaluate(x, y, batch_size=256, verbose=0)[1]

    keras_seconds = median_seconds(keras_evaluate, repeats)
    print(f"mnist_cnn, {len(y)} test images, median of {repeats} runs, 1 thread for LiteRT")
    print(f"{'':28}{'seconds':>10}{'÷ keras':>10}{'accuracy':>10}")
    print(f"{'keras evaluate (float32)':28}{keras_seconds:>10.3f}{1.0:>10.2f}"
          f"{keras_evaluate():>10.4f}")
    plans = {"float32": None, "int8": QuantizationPlan("int8", samples=dataset.representative(
        200, 0))}
    with tempfile.TemporaryDirectory() as tmp:
        for name, plan in plans.items():
            path = Path(tmp) / f"{name}.tflite"
            path.write_bytes(to_tflite(model, plan, sparse=False))
            runner = TFLiteRunner(path, threads=1)

            def validator_pass(runner=runner):
                return float((runner.predict(x, 256).argmax(1) == y).mean())

            seconds = median_seconds(validator_pass, repeats)
            print(f"{'validator, ' + name:28}{seconds:>10.3f}{seconds / keras_seconds:>10.2f}"
                  f"{validator_pass():>10.4f}")
    print("goal: validator ÷ keras <= 1.0")


if __name__ == "__main__":
    main()
