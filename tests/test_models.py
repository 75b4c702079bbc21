"""Model sources: tf_keras and Keras 3 files, H5, SavedModel, factories; safe loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from prune2edge import (
    ConstantSparsity,
    Convert,
    FineTune,
    Pipeline,
    Prune,
    Quantize,
    Strip,
    Validate,
    _compat,
)
from prune2edge.errors import ModelError
from prune2edge.keras.load import ModelSpec, load

PIPELINE = Pipeline([Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=5)),
                     FineTune(epochs=1), Strip(), Quantize(samples=20), Convert(sparse="off"),
                     Validate(runs=3, warmup=0, memory=False, min_agreement=0.5)])
# Loading is what a file kind changes: its builds stop at a float .tflite.
FILE_PIPELINE = Pipeline([Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=5)),
                          FineTune(epochs=1), Strip(), Convert(sparse="off")])


def functional_cnn():
    """Conv-BN-ReLU, a depthwise branch added back (residual), a concatenation, dropout."""
    keras = _compat.keras()
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    branch = layers.BatchNormalization()(layers.DepthwiseConv2D(3, padding="same")(x))
    x = layers.Add()([x, branch])
    x = layers.Concatenate()([x, layers.Conv2D(4, 1)(x)])
    x = layers.Dropout(0.1)(layers.Flatten()(layers.AveragePooling2D()(x)))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="functional_cnn")


def build(source, tiny_npz, out, pipeline=PIPELINE, **spec):
    return pipeline.run(ModelSpec(source=str(source), **spec), str(tiny_npz), out=out)


def assert_built(report):
    assert report.status == "ok" and report.accuracy["tflite"] > 0
    assert report.conversion["quantization"]["mode"] == "int8"
    assert abs(report.accuracy["keras"] - report.accuracy["tflite"]) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5", "savedmodel"])
def test_tf_keras_files(tmp_path, tiny_npz, suffix):
    path = tmp_path / f"model{suffix}" if suffix != "savedmodel" else tmp_path / "saved"
    functional_cnn().save(path, **({"save_format": "tf"} if suffix == "savedmodel" else {}))
    report = build(path, tiny_npz, tmp_path / "out", FILE_PIPELINE)
    assert report.status == "ok" and (tmp_path / "out" / "model.tflite").is_file()
    assert report.model["kind"] == {".keras": "keras", ".h5": "h5",
                                    "savedmodel": "savedmodel"}[suffix]
    assert report.model["executes_user_code"] is False
    dense = {d["type"]: d["reason"] for d in report.pruning[0]["dense_layers"]}
    assert dense == {"BatchNormalization": "tfmot prunes no weights of BatchNormalization layers",
                     "DepthwiseConv2D": "tfmot prunes no weights of DepthwiseConv2D layers"}


@pytest.mark.slow
def test_factory_in_a_python_file(tmp_path, tiny_npz):
    (tmp_path / "my_model.py").write_text(textwrap.dedent("""\
        from test_models import functional_cnn

        def build():
            return functional_cnn()
        """))
    report = build(f"{tmp_path}/my_model.py:build", tiny_npz, tmp_path / "out")
    assert_built(report)
    assert report.model["kind"] == "factory" and report.model["executes_user_code"] is True


KERAS3_MODEL = """
import os, sys
os.environ.pop("TF_USE_LEGACY_KERAS", None)
import keras
keras.utils.set_random_seed(0)
inputs = keras.Input((28, 28, 1))
x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
branch = keras.layers.BatchNormalization()(keras.layers.DepthwiseConv2D(3, padding="same")(x))
x = keras.layers.Add()([x, branch])
x = keras.layers.Concatenate()([x, keras.layers.Conv2D(4, 1)(x)])
x = keras.layers.Flatten()(keras.layers.MaxPooling2D()(x))
outputs = keras.layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
for layer in model.layers:  # non-trivial batch-norm statistics, so the translation shows them
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.moving_mean.assign(keras.random.uniform(layer.moving_mean.shape, seed=1))
        layer.moving_variance.assign(keras.random.uniform(layer.moving_variance.shape, 0.5, 2))
model.save(sys.argv[1])
if len(sys.argv) > 2:
    ops_in = keras.Input((4,))
    hidden = keras.ops.add(keras.layers.Dense(3)(ops_in), 1.0)
    keras.Model(ops_in, keras.layers.Dense(2)(hidden)).save(sys.argv[2])
print(keras.__version__)
"""


@pytest.fixture(scope="module")
def keras3_files(tmp_path_factory):
    """Files written by Keras 3 itself, in a separate process (as a Keras 3 user would)."""
    root = tmp_path_factory.mktemp("keras3")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    out = subprocess.run([sys.executable, "-c", KERAS3_MODEL, str(root / "k3.keras"),
                          str(root / "ops.keras")], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith("3.")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["auto", "tf_keras"])
def test_keras3_file_is_pruned_and_quantized_as_it_is_or_translated(keras3_files, tiny_npz,
                                                                      tmp_path, engine):
    """`auto` builds a Keras 3 file in the keras3 engine; `tf_keras` translates it, verified."""
    with open(keras3_files / "k3.keras", "rb") as f:
        assert f.read(2) == b"PK"
    report = build(keras3_files / "k3.keras", tiny_npz, tmp_path / "out", engine=engine)
    assert_built(report)
    assert report.model["kind"] == "keras3"
    if engine == "auto":
        assert report.model["engine"] == "keras3" and "translation" not in report.model
    else:
        translation = report.model["translation"]
        assert translation["from"].startswith("keras 3.")
        assert translation["to"].startswith("tf_keras")
        assert translation["max_abs_diff"] < 1e-5 and translation["verified_samples"] == 16
    assert "DepthwiseConv2D" in {d["type"] for d in report.pruning[0]["dense_layers"]}
    json.dumps(report.to_dict())  # the translation report is plain data


def test_a_keras3_operation_without_a_layer_is_translated(keras3_files):
    translation = load(str(keras3_files / "ops.keras"), keras3_files,
                       engine="tf_keras").details["translation"]
    assert translation["operations"] == 1 and translation["max_abs_diff"] <= 1e-4


def lambda_model():
    keras = _compat.keras()
    inputs = keras.Input((28, 28))
    x = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def test_safe_mode_refuses_lambda_layers_until_the_user_trusts_the_file(tmp_path, tiny_npz):
    lambda_model().save(tmp_path / "lambda.h5")
    lambda_model().save(tmp_path / "lambda.keras")
    for name in ("lambda.h5", "lambda.keras"):
        with pytest.raises(ModelError) as info:
            load(name, tmp_path)
        assert "safe_mode = false" in info.value.fix
    loaded = load("lambda.h5", tmp_path, safe_mode=False)
    assert loaded.describe()["executes_user_code"] is True


class Subclassed(_compat.keras().Model):
    def __init__(self):
        super().__init__()
        self.dense = _compat.keras().layers.Dense(10)

    def call(self, x):
        return self.dense(x)


def subclassed():
    return Subclassed()


def test_subclassed_models_get_a_clear_explanation(tmp_path):
    with pytest.raises(ModelError) as info:
        load("test_models:subclassed", tmp_path)
    assert info.value.what == "Subclassed is a subclassed model"
    assert "functional API" in info.value.fix


@pytest.mark.parametrize(("name", "content", "what"), [
    ("bad.keras", b"PK not really a zip", "cannot load the model"),
    ("bad.h5", b"\x89HDF\r\n\x1a\n broken", "cannot read the model"),
    ("model.onnx", b"", "unsupported model file type '.onnx'"),
])
def test_unreadable_model_files(tmp_path, name, content, what):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ModelError) as info:
        load(name, tmp_path)
    assert info.value.what.startswith(what)
