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


def test_mnist_mlp_recipe_trains_then_prunes(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "mnist_mlp", "--out", str(out), "--quiet",
                                      "--set", "stages.train.epochs=2",
                                      "--set", "stages.finetune.epochs=2"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["baseline"] > 0.9  # trained before pruning
    assert report["sparsity"]["overall"] == pytest.approx(0.5, abs=0.01)
