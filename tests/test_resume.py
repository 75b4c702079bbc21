"""Interrupted builds: a real signal mid fine-tune stops cleanly; --resume finishes the job."""

from __future__ import annotations

import json
import signal

import pytest
from typer.testing import CliRunner

from processes import prune2edge_process, wait_for_epochs
from prune2edge.cli import app
from prune2edge.tflite.runner import TFLiteRunner

RECIPE = """
version = 1
name = "resumable"
[model]
source = "tiny_models:mlp"
[data]
source = "{npz}"

[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "prune"
schedule = {{ kind = "constant_sparsity", target_sparsity = 0.6, frequency = 5 }}

[[stages]]
kind = "finetune"
epochs = 8

[[stages]]
kind = "strip"

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
"""


@pytest.mark.slow
def test_a_finetune_stopped_by_sigterm_resumes_from_its_last_epoch(tmp_path, tiny_npz):
    """SIGTERM (what CI runners and `kill` send) stops a build as Ctrl-C does; SIGINT is
    tests/test_checkpoints.py's, which also compares the resumed bytes."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(npz=tiny_npz))
    out = tmp_path / "out"
    state = out / ".prune2edge-resume" / "state.json"
    process = prune2edge_process("build", recipe, "--out", out, "--quiet")
    wait_for_epochs(state, stage=3, epochs=2, process=process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    saved = json.loads(state.read_text())
    line = stderr.strip().splitlines()[-1]
    assert line == (f"error: interrupted: stopped cleanly, nothing half-written was kept "
                    f"({out}): the checkpoint (stage 3 after epoch {saved['epochs_done']}) is "
                    "kept: run the same command with --resume")
    assert sorted(p.name for p in out.iterdir()) == [".prune2edge-resume"]
    assert [r["kind"] for r in saved["records"]] == ["train", "prune"]

    resumed = prune2edge_process("build", recipe, "--out", out, "--quiet", "--resume")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "ok"
    assert report["resumed"] == {"stage": 3, "epochs_done": saved["epochs_done"],
                                 "stages_skipped": ["train", "prune"]}
    finetune = next(s for s in report["stages"] if s["kind"] == "finetune")
    assert finetune["outputs"]["epochs"] == 8
    assert report["sparsity"]["overall"] == pytest.approx(0.6, abs=0.01)
    runner = TFLiteRunner(out / "model.tflite")
    assert runner.input_shape == (28, 28)
    assert not (out / ".prune2edge-resume").exists()


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
