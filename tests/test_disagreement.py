"""A build whose .tflite disagrees with Keras fails, and keeps its report. (Interrupted builds
and --resume: tests/test_checkpoints.py.)"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app


@pytest.mark.slow
def test_a_keras_tflite_disagreement_fails_the_build_but_keeps_the_report(tmp_path, tiny_npz):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"""
version = 1
name = "disagree"
[model]
source = "tiny_models:cnn"
[data]
source = "{tiny_npz}"
[budgets]
min_accuracy = 0.0
[[stages]]
kind = "quantize"
samples = 5
[[stages]]
kind = "convert"
[[stages]]
kind = "validate"
runs = 3
memory = false
min_agreement = 1.0
""")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", str(recipe), "--out", str(out)])
    assert result.exit_code == 4, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Keras and the .tflite pick different "
                                                   "classes for ")
    assert "gzip size (bytes)" in result.stdout  # the figures are shown all the same
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and report["failure"].startswith("Keras and the .tflite")
    assert report["agreement"]["top1"] < 1.0
    check = CliRunner().invoke(app, ["check", str(out)])
    assert check.exit_code == 3 and "build status" in check.stdout
