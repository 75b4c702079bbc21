"""The work of models/mnist_cnn.toml written by hand with plain tfmot, as a user would.

Trains the CNN, prunes it to 80% with PolynomialDecay while fine-tuning, strips, converts to
int8 with and without the sparse encoding and keeps the smaller gzip. Prints its figures as
JSON so `bench_vs_tfmot.py` can set them beside prune2edge's. Uses no prune2edge code.

    python scripts/plain_tfmot_cnn.py --out build/plain
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import time
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

DATA = (Path(__file__).resolve().parents[1] / "src" / "prune2edge" / "data" / "datasets"
        / "mnist-10k.npz")
SEED, TRAIN_EPOCHS, FINETUNE_EPOCHS, BATCH, VAL_SPLIT = 0, 5, 10, 32, 0.1
FINETUNE_LR, FINAL_SPARSITY, END_SHARE, FREQUENCY, SAMPLES = 5e-4, 0.8, 0.7, 100, 200


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/plain-tfmot"))
    args = parser.parse_args()
    started = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    d = np.load(DATA)
    x_train = d["x_train"][..., None].astype("float32") / 255.0
    x_test = d["x_test"][..., None].astype("float32") / 255.0
    y_train, y_test = d["y_train"], d["y_test"]

    layers = keras.layers
    model = keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10),
    ])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=TRAIN_EPOCHS, batch_size=BATCH,
              validation_split=VAL_SPLIT, verbose=0)
    baseline_bytes = tf.lite.TFLiteConverter.from_keras_model(model).convert()

    steps = FINETUNE_EPOCHS * math.ceil(int(len(x_train) * (1 - VAL_SPLIT)) / BATCH)
    end_step = int(END_SHARE * steps) // FREQUENCY * FREQUENCY
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=FINAL_SPARSITY, begin_step=0, end_step=end_step,
        frequency=FREQUENCY)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile(optimizer=keras.optimizers.Adam(FINETUNE_LR), loss=loss, metrics=["accuracy"])
    pruned.fit(x_train, y_train, epochs=FINETUNE_EPOCHS, batch_size=BATCH,
               validation_split=VAL_SPLIT, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    _, keras_accuracy = pruned.evaluate(x_test, y_test, verbose=0)

    calibration = x_train[np.sort(np.random.default_rng(SEED).choice(len(x_train), SAMPLES,
                                                                      replace=False))]

    def convert(sparse: bool) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(stripped)
        converter.optimizations = [tf.lite.Optimize.DEFAULT] + (
            [tf.lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse else [])
        converter.representative_dataset = lambda: ([s[None]] for s in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()

    final = min((convert(False), convert(True)), key=gzip_size)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "model.tflite").write_bytes(final)

    interpreter = tf.lite.Interpreter(model_content=final)
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    hits = 0
    for x, y in zip(x_test, y_test, strict=True):
        interpreter.set_tensor(inp["index"], x[None])
        interpreter.invoke()
        hits += int(interpreter.get_tensor(outp["index"]).argmax() == y)
    print(json.dumps({
        "seconds": time.perf_counter() - started,
        "baseline": {"bytes": len(baseline_bytes), "gzip_bytes": gzip_size(baseline_bytes)},
        "final": {"bytes": len(final), "gzip_bytes": gzip_size(final)},
        "keras_accuracy": keras_accuracy, "tflite_accuracy": hits / len(y_test),
    }))


if __name__ == "__main__":
    main()
