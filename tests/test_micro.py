"""TensorFlow Lite Micro: a .tflite run on TFLM's own interpreter (tflite-micro), its outputs
next to LiteRT's, the tensor arena its recording allocator counts, and the gate on arena and
flash. Models TFLM cannot run are refused in one line naming the op."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.tflite.micro import MicroRunner
from prune2edge.tflite.model import TFLiteModel
from prune2edge.tflite.validator import agreement_with

pytest.importorskip("tflite_micro")
runner = CliRunner()

# TFLM's allocation printout, from its own interpreter in a fresh process.
PRINTOUT = """
import sys, numpy as np
from tflite_micro import runtime
interpreter = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(),
                                             arena_size=int(sys.argv[2]))
details = interpreter.get_input_details(0)
interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
interpreter.invoke()
interpreter.print_allocations()
"""
STAGES = """
[[stages]]
kind = "train"
epochs = 3

[[stages]]
kind = "quantize"
samples = 50

[[stages]]
kind = "convert"
{convert}

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
runtime = "both"
min_agreement = 0.9
"""


def printout(path, arena_size):
    return subprocess.run([sys.executable, "-c", PRINTOUT, str(path), str(arena_size)],
                          capture_output=True, text=True, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["int8_dense_int8_io", "float_dense"])
def test_the_arena_is_what_tflm_prints_and_the_smallest_it_accepts(tiny_files, name):
    path = tiny_files.files[name]
    arena = MicroRunner(path.read_bytes(), str(path)).arena()
    own = printout(path, 1 << 20)
    figures = dict(re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", own.stderr))
    assert (arena.total, arena.head, arena.tail) == tuple(
        int(figures[k]) for k in ("total", "head", "tail")), own.stderr
    assert printout(path, arena.smallest).returncode == 0
    assert printout(path, arena.smallest - 1).returncode != 0
    # The activations alive at the busiest op are what TFLM's planner laid out (to alignment).
    peak = max(op.live_bytes for op in TFLiteModel.of_file(path).activation_memory())
    assert 0 <= arena.head - peak < 64


@pytest.mark.slow
def test_validate_runs_tflm_next_to_litert(tiny_files):
    path = tiny_files.files["int8_dense_int8_io"]
    result = runner.invoke(app, ["validate", str(path), "--runtime", "both", "--runs", "5",
                                 "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    micro = figures["micro"]
    assert micro["agreement"]["top1"] >= 0.99 and micro["agreement"]["within_one_step"] >= 0.9
    assert abs(micro["accuracy"] - figures["accuracy"]) <= 0.01
    assert micro["ops"]["FULLY_CONNECTED"] == 2 and micro["arena"]["total"] > 0
    assert micro["flash"]["file_bytes"] == path.stat().st_size
    alone = json.loads(runner.invoke(app, ["validate", str(path), "--runtime", "tflm",
                                           "--json"]).stdout)
    assert "latency_ms" not in alone and alone["micro"]["arena"] == micro["arena"]


def test_tflm_refuses_the_sparse_encoding_in_one_line(tiny_files):
    result = runner.invoke(app, ["validate", str(tiny_files.files["float_sparse"]),
                                 "--runtime", "tflm"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TensorFlow Lite Micro has no kernel for DENSIFY" in lines[0]


@pytest.mark.slow
def test_a_model_tflm_crashes_on_is_refused_in_one_line(tmp_path):
    """TFLM's int8 softmax aborts the process on this MobileNet head (random weights); the
    model is opened in a child process first, so the user gets one line, not a dead build."""
    from prune2edge import _compat
    from prune2edge.keras.converter import QuantizationPlan, to_tflite

    keras = _compat.keras()
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                        include_top=False, pooling="avg")
    model = keras.Model(base.input, keras.layers.Dense(10, activation="softmax")(base.output))
    samples = np.random.default_rng(0).uniform(0, 1, (20, 32, 32, 3)).astype(np.float32)
    path = tmp_path / "mobilenet.tflite"
    path.write_bytes(to_tflite(model, QuantizationPlan("int8", samples=samples), sparse=False))
    result = runner.invoke(app, ["validate", str(path), "--runtime", "tflm"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TensorFlow Lite Micro crashed running the model" in lines[0]
    assert "SOFTMAX" in lines[0]  # the ops are listed


def test_agreement_counts_output_steps():
    litert = [[0.0, 0.5, 1.0], [1.0, 0.0, 0.0]]
    micro = [[0.0, 0.75, 1.0], [1.0, 0.0, 0.5]]  # one step off, then two
    agree = agreement_with(np.array(micro), np.array(litert), step=0.25)
    assert agree == {"top1": 1.0, "max_abs_diff": 0.5, "step": 0.25, "max_steps": 2.0,
                     "within_one_step": 0.5}


@pytest.mark.slow
def test_a_build_for_tflm_is_dense_reports_the_arena_and_check_gates_it(write_recipe, tmp_path):
    out = tmp_path / "out"
    recipe = write_recipe(STAGES.format(convert=""), model="tiny_models:cnn")
    built = runner.invoke(app, ["build", str(recipe), "--out", str(out), "--quiet"])
    assert built.exit_code == 0, built.output
    report = json.loads((out / "report.json").read_text())
    assert report["conversion"]["encoding"] == "dense"
    assert "TensorFlow Lite Micro" in report["conversion"]["decision"]
    micro = report["micro"]
    assert micro["agreement"]["top1"] >= 0.98  # TFLM vs LiteRT, the same int8 file
    assert micro["baseline"]["arena"]["total"] > micro["arena"]["total"]  # float32 vs int8
    assert "## TensorFlow Lite Micro" in (out / "report.md").read_text()
    arena = micro["arena"]["total"]

    def check(*budgets):
        return runner.invoke(app, ["check", str(out), *(f"--budget={b}" for b in budgets)])

    assert check(f"max_arena_bytes={arena - 1}").exit_code == 3
    assert check(f"max_arena_bytes={arena}").exit_code == 0
    flash = micro["flash"]["file_bytes"]
    assert check(f"max_flash_bytes={flash - 1}").exit_code == 3
    assert check(f"max_flash_bytes={flash}").exit_code == 0


def test_sparse_on_cannot_be_validated_on_tflm(write_recipe, tmp_path):
    recipe = write_recipe(STAGES.format(convert='sparse = "on"'), model="tiny_models:cnn")
    result = runner.invoke(app, ["build", str(recipe), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert 'sparse = "on" cannot run on TensorFlow Lite Micro' in result.stderr
