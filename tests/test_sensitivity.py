"""`prune2edge sensitivity`: per-layer accuracy curves, as a table, JSON and a plot."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app

STAGES = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "structural"
"""


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "criterion", "layers"), [
    ("magnitude", "magnitude", ["dense", "dense_1"]),
    ("magnitude", "obd", ["dense", "dense_1"]),
    ("structural", "l2", ["conv2d", "dense"]),
])
def test_scan_writes_a_curve_per_layer(write_recipe, tmp_path, mode, criterion, layers):
    model = "tiny_models:cnn" if mode == "structural" else "tiny_models:mlp"
    recipe = write_recipe(STAGES, model=model)
    out = tmp_path / "scan"
    result = CliRunner().invoke(app, ["sensitivity", str(recipe), "--mode", mode, "--criterion",
                                      criterion, "--ratios", "0.5,0.9", "--samples", "100",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["sensitivity.json", "sensitivity.md",
                                                     "sensitivity.png"]
    doc = json.loads((out / "sensitivity.json").read_text())
    assert [row["layer"] for row in doc["layers"]] == layers
    assert doc["ratios"] == [0.5, 0.9] and doc["test_samples"] == 100
    assert all(len(row["accuracy"]) == 2 and all(0 <= a <= 1 for a in row["accuracy"])
               for row in doc["layers"])
    assert "![sensitivity](sensitivity.png)" in (out / "sensitivity.md").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--mode", "sideways"], "unknown mode 'sideways'"),
    (["--criterion", "l1"], "criterion 'l1' does not apply to magnitude pruning"),
    (["--ratios", "half"], "--ratios 'half' is not a list of numbers"),
    (["--ratios", "0.5,1.0"], "every ratio must be in (0, 1)"),
])
def test_bad_options(write_recipe, tmp_path, args, message):
    result = CliRunner().invoke(app, ["sensitivity", str(write_recipe(STAGES)), *args,
                                      "--out", str(tmp_path / "scan")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}")
    assert not (tmp_path / "scan").exists()
