"""The CLI end to end on tiny models: outputs, overrides, slicing, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app

runner = CliRunner()
REPORT_KEYS = {"schema", "recipe", "stages", "sizes", "accuracy", "agreement", "latency_ms",
               "sparsity", "artifacts", "environment"}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, code, text):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert text in lines[0]
    assert "Traceback" not in result.output


def test_help_is_instant_and_imports_no_tensorflow():
    code = ("import sys; from prune2edge.cli import main; sys.argv=['prune2edge','--help']\n"
            "try: main()\nexcept SystemExit: pass\n"
            "print('TF' if 'tensorflow' in sys.modules else 'no TF')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "build" in out.stdout and "recipes" in out.stdout
    assert out.stdout.strip().endswith("no TF")


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "prune2edge", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("prune2edge ")


@pytest.mark.slow
def test_build_writes_every_output(write_recipe, standard_stages, tmp_path):
    recipe = write_recipe(standard_stages)
    out = tmp_path / "out"
    result = invoke("build", recipe, "--out", out)
    assert result.exit_code == 0, result.output
    assert "[1/7] train" in result.stdout and "[7/7] validate" in result.stdout
    assert "gzip size (bytes)" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["baseline.tflite", "build.log", "model.keras", "model.tflite", "report.json",
                     "report.md", "sizes.png", "sparsity.png"]
    report = json.loads((out / "report.json").read_text())
    assert set(report) >= REPORT_KEYS and report["schema"] == "prune2edge.report/1"
    assert set(report["artifacts"]) == {"baseline.tflite", "model.keras", "model.tflite",
                                        "sizes.png", "sparsity.png"}
    assert report["plots"] == ["sparsity.png", "sizes.png"]
    assert report["sizes"]["final"]["bytes"] == (out / "model.tflite").stat().st_size
    assert report["sparsity"]["overall"] == pytest.approx(0.6, abs=0.01)
    assert [s["kind"] for s in report["stages"]][:2] == ["train", "prune"]
    assert "## Baseline vs final" in (out / "report.md").read_text()


@pytest.mark.slow
def test_set_until_and_only(write_recipe, standard_stages, tmp_path):
    recipe = write_recipe(standard_stages)
    result = invoke("build", recipe, "--out", tmp_path / "a", "--until", "strip", "--quiet",
                    "--set", "stages.prune.schedule.target_sparsity=0.3")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert [s["kind"] for s in report["stages"]] == ["train", "prune", "finetune", "strip"]
    assert report["sizes"]["final"] is None
    assert list(report["artifacts"]) == ["model.keras", "sparsity.png"]
    assert report["sparsity"]["overall"] == pytest.approx(0.3, abs=0.01)
    assert report["recipe"]["overrides"] == ["stages.prune.schedule.target_sparsity=0.3"]
    result = invoke("build", recipe, "--out", tmp_path / "b", "--only", "convert", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert [s["kind"] for s in report["stages"]] == ["convert"]


@pytest.mark.slow
def test_non_empty_out_needs_force(write_recipe, tmp_path):
    recipe = write_recipe("[[stages]]\nkind = \"convert\"\n")
    out = tmp_path / "out"
    assert invoke("build", recipe, "--out", out, "-q").exit_code == 0
    first = (out / "report.json").read_text()
    result = invoke("build", recipe, "--out", out, "-q")
    assert_one_line_error(result, 1, "the output directory is not empty")
    assert (out / "report.json").read_text() == first
    assert invoke("build", recipe, "--out", out, "-q", "--force").exit_code == 0


@pytest.mark.parametrize(("stages", "model", "extra", "message"), [
    ("[[stages]]\nkind = \"strip\"\n", "tiny_models:mlp", "",
     "recipe.toml: stage 1 (strip)): add a prune stage before it"),
    ("[[stages]]\nkind = \"convert\"\n", "tiny_models:not_a_model", "",
     "the source gave a str, not a Keras Model"),
    ("[[stages]]\nkind = \"convert\"\n", "tiny_models:nope", "",
     "tiny_models has no function 'nope'"),
    ("[[stages]]\nkind = \"convert\"\n", "no_such_module:f", "",
     "cannot import module 'no_such_module'"),
    ("[[stages]]\nkind = \"finetune\"\nbatch_size = 1000\n", "tiny_models:mlp", "",
     "finetune has 576 training samples for batch_size 1000"),
    ("[[stages]]\nkind = \"prune\"\nlayers = [\"conv\"]\n"
     "[[stages]]\nkind = \"finetune\"\n", "tiny_models:mlp", "",
     "layers names 'conv', which is no layer name or type"),
])
def test_errors_are_one_line_and_leave_nothing(write_recipe, tmp_path, stages, model, extra,
                                               message):
    recipe = write_recipe(stages, model=model, extra=extra)
    out = tmp_path / "out"
    result = invoke("build", recipe, "--out", out)
    assert_one_line_error(result, 1, message)
    assert not out.exists()


def test_unreadable_recipe(tmp_path):
    assert_one_line_error(invoke("build", tmp_path / "missing.toml"), 1, "recipe file not found")


def test_recipes_lists_the_bundled_examples():
    result = invoke("recipes")
    assert result.exit_code == 0
    for name in ("seed_mlp", "mnist_mlp", "mnist_cnn"):
        assert name in result.stdout


@pytest.mark.parametrize("args", [["build"], ["bild", "x"], ["build", "x", "--runs", "3"]])
def test_usage_errors_exit_1_like_every_other_mistake(args):
    result = invoke(*args)
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("args", [["-h"], ["build", "-h"], ["check", "-h"]])
def test_h_is_help(args):
    result = invoke(*args)
    assert result.exit_code == 0 and "Usage:" in result.stdout


@pytest.mark.slow
def test_a_log_gets_a_line_per_epoch_and_what_was_done_to_the_data(write_recipe, tmp_path,
                                                                    tiny_npz):
    """Not a terminal (a CI log): no bars, but every epoch's figures on a line of its own;
    the data's adaptations (resize, gray to RGB, scaling) are printed and listed in
    report.md; a fresh build never says "resumed"; the accuracy change has one sign."""
    recipe = write_recipe("""
[[stages]]
kind = "train"
epochs = 2

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
""", model="tiny_models:rgb_cnn")
    out = tmp_path / "out"
    result = invoke("build", recipe, "--out", out)
    assert result.exit_code == 0, result.output
    epochs = [line.strip() for line in result.stdout.splitlines() if ": epoch " in line]
    assert [line.split(":")[1].strip() for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all("loss" in line and "val_accuracy" in line and "%" in line for line in epochs)
    assert "resumed" not in result.stdout
    adapted = ("resized 28x28 -> 20x20 (bilinear)", "gray -> RGB (channel repeated)",
               "scaled uint8 [0, 255] to float32 [0, 1]")
    note = next(line for line in result.stdout.splitlines() if "data fitted to the model" in line)
    assert all(step in note for step in adapted)
    markdown = (out / "report.md").read_text()
    assert "## Data" in markdown and all(f"- {step}" in markdown for step in adapted)
    report = json.loads((out / "report.json").read_text())
    accuracy = report["accuracy"]
    change = round((accuracy["tflite"] - accuracy["baseline"]) * 100, 4)
    assert accuracy["change_pt"] == change and "drop_pt" not in accuracy
    shown = f"{change:+.2f} pt"
    assert shown in result.stdout and shown in markdown
    validated = invoke("validate", out / "model.tflite", "--data", tiny_npz)
    assert validated.exit_code == 0, validated.output
    text = " ".join(validated.stdout.split())
    assert all(step in text for step in adapted[:2])


@pytest.mark.slow
def test_a_baseline_near_chance_is_a_loud_warning(write_recipe, tmp_path):
    recipe = write_recipe("""
[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
""")  # nothing trains the model: it guesses
    out = tmp_path / "out"
    result = invoke("build", recipe, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "warning: the baseline's accuracy" in result.stderr
    assert "is near chance for 10 classes" in result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["warnings"] and "near chance" in report["warnings"][0]
    assert "**Warning: the baseline's accuracy" in (out / "report.md").read_text()
