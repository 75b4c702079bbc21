"""Same recipe, same seed: byte-identical .tflite files and identical figures (timings aside).

The example recipe runs whole (every stage, int8, sparse candidates, plots) on the tests' MNIST
subset, for one and two epochs, in a fresh process, and again: its first build is the one
tests/test_examples.py runs the docs' commands on."""

from __future__ import annotations

import json

import pytest

from conftest import TRAIN_CONVERT, build_example

pytestmark = pytest.mark.slow
TIMED = {"seconds", "latency_ms", "memory"}


def _untimed(report):
    doc = {k: v for k, v in report.items() if k not in TIMED}
    doc["budgets"]["verdicts"] = [v for v in doc["budgets"]["verdicts"]
                                  if v["check"] != "max_latency_ratio"]  # a timing
    doc["stages"] = [{**s, "seconds": None, "outputs": {k: v for k, v in s["outputs"].items()
                                                        if k not in TIMED}}
                     for s in report["stages"]]
    for stage in doc["stages"]:
        if stage["kind"] == "convert":
            stage["outputs"]["speed_note"] = None
            for candidate in stage["outputs"]["candidates"].values():
                candidate.pop("p50_ms", None)
    doc["conversion"] = next(s["outputs"] for s in doc["stages"] if s["kind"] == "convert")
    return doc


def test_two_builds_in_fresh_processes_are_identical(mnist_cnn, tmp_path, tiny_npz):
    first = json.loads((mnist_cnn / "build" / "mnist_cnn" / "report.json").read_text())
    second = build_example(mnist_cnn, tmp_path / "again", tiny_npz)
    assert first["artifacts"]["model.tflite"]["sha256"] == \
        second["artifacts"]["model.tflite"]["sha256"]
    assert first["artifacts"] == second["artifacts"]  # every file, plots included
    assert _untimed(first) == _untimed(second)
    assert first["environment"]["determinism"]["tensorflow_op_determinism"] is True


def test_a_keras3_build_is_the_same_whatever_the_process_imported_first(tmp_path,
                                                                        write_recipe):
    """A `prune2edge` process imports Keras 3 only when the model is made, after seeding; a
    notebook or script has it imported before. Keras 3 draws initial weights' seeds from
    Python's `random`, which its import moves: the build seeds again after importing it."""
    from processes import prune2edge_process
    from prune2edge import build

    recipe = write_recipe(TRAIN_CONVERT, model="keras3_models:functional")
    process = prune2edge_process("build", recipe, "--out", tmp_path / "cli", "--quiet")
    assert process.wait(timeout=300) == 0, process.stderr.read()
    build(recipe, tmp_path / "here")  # Keras 3 long imported in pytest
    files = [(tmp_path / out / "model.tflite").read_bytes() for out in ("cli", "here")]
    assert files[0] == files[1]
