"""`prune2edge validate`: figures for any .tflite, its fallback path, and no TensorFlow needed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge import _compat
from prune2edge.cli import app

runner = CliRunner()


def _validate(*args):
    return runner.invoke(app, ["validate", *map(str, args)])


def _loop_accuracy(path, x, y):
    interpreter_cls, _ = _compat.litert()
    interpreter = interpreter_cls(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero = inp["quantization"]
    hits = 0
    for sample, label in zip(x, y, strict=True):
        value = sample[None]
        if inp["dtype"] != np.float32:
            value = np.clip(np.round(value / scale + zero), -128, 127).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], value)
        interpreter.invoke()
        hits += int(interpreter.get_tensor(out["index"]).argmax() == label)
    return hits / len(y)


def test_json_figures_match_an_independent_loop(tiny_files, tiny_npz):
    path = tiny_files.files["int8_dense_int8_io"]
    result = _validate(path, "--data", tiny_npz, "--runs", 7, "--warmup", 2, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    x, y = tiny_files.ctx.setup.data.x_test, tiny_files.ctx.setup.data.y_test
    assert doc["accuracy"] == _loop_accuracy(path, x, y)
    assert doc["test_samples"] == len(y)
    latency = doc["latency_ms"]
    assert latency["runs"] == 7 and latency["warmup"] == 2 and latency["batch"] == 1
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
    # XNNPACK takes everything but the int8 SOFTMAX, which the builtin kernels run
    assert doc["kernels"] == "xnnpack (3 ops) + builtin (SOFTMAX)" and doc["fallback"] is None


def test_fallback_is_reported(tiny_files, tiny_npz):
    path = tiny_files.files["int8_sparse"]
    doc = json.loads(_validate(path, "--data", tiny_npz, "--runs", 3, "--json").stdout)
    assert doc["kernels"] == "builtin"
    assert doc["fallback"].startswith("XNNPACK refused the model")
    text = _validate(path, "--data", tiny_npz, "--runs", 3).stdout
    assert "builtin (XNNPACK refused the model" in text.replace("\n", " ")


def test_agreement_with_keras(tiny_files, tiny_npz):
    path = tiny_files.files["float_dense"]
    result = _validate(path, "--data", tiny_npz, "--runs", 3, "--json",
                       "--keras", tiny_files.files["keras_h5"])
    doc = json.loads(result.stdout)
    assert doc["agreement"]["top1"] == 1.0 and doc["agreement"]["max_abs_diff"] < 1e-4
    assert doc["keras_accuracy"] == doc["accuracy"]


def test_errors(tmp_path, tiny_files, tiny_npz):
    result = _validate(tmp_path / "missing.tflite")
    assert result.exit_code == 1 and result.stderr.startswith("error: model file not found")
    (tmp_path / "bad.tflite").write_bytes(b"nonsense" * 20)
    result = _validate(tmp_path / "bad.tflite")
    assert result.exit_code == 1 and "not a valid .tflite model" in result.stderr
    np.savez(tmp_path / "other.npz", x_train=np.zeros((4, 5, 5), np.uint8),
             y_train=np.zeros(4, int), x_test=np.zeros((4, 5, 5), np.uint8),
             y_test=np.zeros(4, int))
    result = _validate(tiny_files.files["float_dense"], "--data", tmp_path / "other.npz")
    assert result.exit_code == 1
    assert "data samples have shape (5, 5) but the model expects (28, 28)" in result.stderr


BLOCK_TF = ("import sys\n"
            "for name in ('tensorflow', 'tf_keras', 'tensorflow_model_optimization', "
            "'keras'):\n    sys.modules[name] = None  # any import of them now fails\n"
            "from prune2edge.cli import main\n"
            "sys.argv = ['prune2edge'] + sys.argv[1:]\n"
            "main()\n")


@pytest.mark.slow
def test_validate_and_inspect_run_without_tensorflow(tiny_files, tiny_npz):
    path = str(tiny_files.files["int8_sparse"])
    for args in (["validate", path, "--data", str(tiny_npz), "--runs", "3", "--json"],
                 ["inspect", path, "--json"]):
        out = subprocess.run([sys.executable, "-c", BLOCK_TF, *args], capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)
