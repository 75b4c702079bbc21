"""`--jobs N`: sensitivity cells in worker processes write exactly what one process writes
(tune's trials: tests/test_tune.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.jobs import Jobs

SCAN = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "structural"
"""


def _square_plus(offset, x):
    return x * x + offset


def _offset(value):
    return value


def test_jobs_return_results_in_order_and_report_each():
    finished = []
    with Jobs(1, 10, _offset, (10,)) as pool:
        assert pool.map(_square_plus, [3, 1, 2], lambda *done: finished.append(done)) == [
            19, 11, 14]
    assert finished == [(3, 19), (1, 11), (2, 14)]


@pytest.mark.slow
def test_worker_processes_give_the_same_results():
    finished = []
    with Jobs(3, 10, _offset, (10,)) as pool:  # two workers and this process
        assert pool.map(_square_plus, range(6), lambda *done: finished.append(done)) == [
            10, 11, 14, 19, 26, 35]
    assert sorted(finished) == [(i, i * i + 10) for i in range(6)]


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "criterion", "model"), [
    ("magnitude", "obd", "tiny_models:mlp"), ("structural", "l2", "tiny_models:cnn")])
def test_sensitivity_with_two_jobs_writes_what_one_writes(write_recipe, tmp_path, mode,
                                                          criterion, model):
    recipe = write_recipe(SCAN, model=model)
    docs = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        invoke("sensitivity", recipe, "--mode", mode, "--criterion", criterion, "--ratios",
               "0.5,0.9", "--samples", "100", "--out", out, "--jobs", jobs)
        docs.append((out / "sensitivity.json").read_bytes())
    assert docs[0] == docs[1]
