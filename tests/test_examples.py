"""The bundled example recipes, built for real (slow: about a minute each on 2 cores)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("recipe", ["models/seed_mlp.toml", "models/mnist_cnn.toml"])
def test_example_builds_with_faithful_tflite(recipe, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", recipe, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("baseline.tflite", "model.tflite", "report.json", "report.md"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    accuracy = report["accuracy"]
    assert abs(accuracy["keras"] - accuracy["tflite"]) <= 0.005
    assert accuracy["tflite"] > 0.93
    assert report["agreement"]["top1"] > 0.98
    assert report["sizes"]["gzip_ratio"] > 1.5
    expected = {"models/seed_mlp.toml": 0.5, "models/mnist_cnn.toml": 0.8}[recipe]
    pruned = [layer for layer in report["sparsity"]["layers"]]
    assert all(layer["sparsity"] == pytest.approx(expected, abs=0.01) for layer in pruned)


def test_validate_on_the_cnn_build_matches_a_sample_by_sample_loop(tmp_path):
    """The int8 CNN: validate reports percentiles and kernels, and counts every hit right."""
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["build", "mnist_cnn", "--out", str(out), "--quiet",
                                    "--set", "stages.train.epochs=1",
                                    "--set", "stages.finetune.epochs=1"]).exit_code == 0
    result = CliRunner().invoke(app, ["validate", str(out / "model.tflite"), "--json"])
    doc = json.loads(result.stdout)
    assert {"p50", "p90", "p99", "mean", "stdev"} <= set(doc["latency_ms"])
    assert doc["kernels"].startswith("xnnpack")
    from prune2edge import _compat, data

    arrays = data.load(data.DataSpec(), tmp_path, (28, 28)).arrays
    interpreter_cls, _ = _compat.litert()
    interpreter = interpreter_cls(model_path=str(out / "model.tflite"))
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    hits = 0
    for image, label in zip(arrays["x_test"], arrays["y_test"], strict=True):
        interpreter.set_tensor(inp["index"], (image / 255.0).astype("float32")[None, ..., None])
        interpreter.invoke()
        hits += int(interpreter.get_tensor(outp["index"]).argmax() == label)
    assert doc["accuracy"] == hits / len(arrays["y_test"])


def test_mnist_mlp_recipe_trains_then_prunes(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "mnist_mlp", "--out", str(out), "--quiet",
                                      "--set", "stages.train.epochs=2",
                                      "--set", "stages.finetune.epochs=2"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["baseline"] > 0.9  # trained before pruning
    assert report["sparsity"]["overall"] == pytest.approx(0.5, abs=0.01)
