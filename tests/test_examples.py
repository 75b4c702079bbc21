"""The README's first build, made in a fresh process on the tests' MNIST subset with fewer
epochs, and every command the README and docs/ show, run as written on it. (`make check`
builds every example recipe as written and gates it on its budgets and committed baseline; CI
runs the quick six; tests/test_determinism.py builds this one again and compares.)"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Commands cheap enough to run from every page: they read a build, they do not make one.
CHEAP = {"recipes", "inspect", "validate", "check", "structure"}
def test_the_cnn_example_builds_a_faithful_tflite(mnist_cnn):
    out = mnist_cnn / "build" / "mnist_cnn"
    for name in ("baseline.tflite", "model.tflite", "model.keras", "report.json", "report.md"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert abs(report["accuracy"]["keras"] - report["accuracy"]["tflite"]) <= 0.02  # 200 images
    assert report["agreement"]["top1"] > 0.95
    assert report["sizes"]["gzip_ratio"] > 1.5
    assert all(layer["sparsity"] == pytest.approx(0.8, abs=0.01)
               for layer in report["sparsity"]["layers"])


def test_validate_on_the_cnn_build_matches_a_sample_by_sample_loop(mnist_cnn):
    """The int8 CNN: validate reports percentiles and kernels, and counts every hit right."""
    out = mnist_cnn / "build" / "mnist_cnn"
    result = CliRunner().invoke(app, ["validate", str(out / "model.tflite"), "--json"])
    doc = json.loads(result.stdout)
    assert {"p50", "p90", "p99", "mean", "stdev"} <= set(doc["latency_ms"])
    assert doc["kernels"].startswith("xnnpack")
    from prune2edge import _compat, data

    arrays = data.load(data.DataSpec(), mnist_cnn, (28, 28)).arrays
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


def shell_lines() -> list[tuple[str, str]]:
    """(page, command) for every prune2edge command in a ```sh block of the docs, each
    command once (on the first page that shows it)."""
    found: dict[str, str] = {}
    for page in DOCS:
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.S):
            for line in block.splitlines():
                command = line.split(" #")[0].strip()
                if command.startswith("prune2edge"):
                    found.setdefault(command, page.name)
    return [(page, command) for command, page in found.items()]


def test_the_docs_show_commands():
    pages = {page for page, _ in shell_lines()}
    assert "README.md" in pages and len(shell_lines()) > 20


def cheap(command: str) -> bool:
    words = shlex.split(command)
    return bool({"--help", "-h"} & set(words)) or (len(words) > 1 and words[1] in CHEAP)


@pytest.mark.parametrize(("page", "command"), [line for line in shell_lines() if cheap(line[1])])
def test_every_cheap_command_in_the_docs_runs_as_written(mnist_cnn, page, command,
                                                         monkeypatch):
    """Exit 0 (or 3 for a check whose budget does not hold): never a usage or input error.
    Run in this process (the command's own entry point, `app`), from the repository-like
    folder; `tests/test_cli.py` runs the installed command in fresh processes."""
    monkeypatch.chdir(mnist_cnn)
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    allowed = (0, 3) if args[0] == "check" else (0,)
    assert result.exit_code in allowed, f"{page}: {command}\n{result.output[-2000:]}"
