"""Training under TensorFlow's own distribution strategies: MirroredStrategy over two logical
CPUs (same accuracy, same number of steps: batch_size is global; the same bytes every run;
an interrupted build resumes), and MultiWorkerMirroredStrategy with two local workers on
loopback ports."""

from __future__ import annotations

import json
import os
import signal
import socket

import pytest

from processes import prune2edge_process, wait_for_epochs
from prune2edge.engine.distribute import DistributeSpec, one_machine, worker_task
from prune2edge.errors import RecipeError

RECIPE = """
version = 1
name = "distributed"
[model]
source = "{model}"
[data]
source = "{npz}"
{distribute}
[[stages]]
kind = "train"
epochs = {train_epochs}

[[stages]]
kind = "prune"
schedule = {{ kind = "constant_sparsity", target_sparsity = 0.6, frequency = 5 }}

[[stages]]
kind = "finetune"
epochs = {finetune_epochs}
teacher = "{teacher}"

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
MIRRORED = '[distribute]\nstrategy = "mirrored"\ncpu_devices = 2\n'
CLUSTER = '[distribute]\nstrategy = "multi_worker"\n'


def write(tmp_path, npz, distribute="", train_epochs=3, finetune_epochs=2, teacher="none",
          name="recipe.toml", model="tiny_models:mlp"):
    path = tmp_path / name
    path.write_text(RECIPE.format(npz=npz, distribute=distribute, train_epochs=train_epochs,
                                  finetune_epochs=finetune_epochs, teacher=teacher, model=model))
    return path


def build(*args, env=None):
    process = prune2edge_process("build", *args, "--quiet", env=env)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    return process


def stopped_and_resumed(recipe, out, epochs):
    """`out` of a build interrupted (SIGINT) after `epochs` epochs of its fine-tune (stage
    3), then resumed."""
    process = prune2edge_process("build", recipe, "--out", out, "--quiet")
    wait_for_epochs(out / ".prune2edge-resume" / "state.json", 3, epochs, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    build(recipe, "--out", out, "--resume")
    return out


def stage_outputs(out, kind):
    report = json.loads((out / "report.json").read_text())
    return next(s["outputs"] for s in report["stages"] if s["kind"] == kind), report


@pytest.mark.parametrize(("table", "what"), [
    ({"cpu_devices": 1}, "cpu_devices must be 0 or >= 2, got 1"),
    ({"devices": ("/cpu:0",)}, "devices and cpu_devices apply to the mirrored strategy, not "
                               "'none'"),
    ({"strategy": "mirrored", "devices": ("/gpu:0",), "cpu_devices": 2},
     "give devices or cpu_devices, not both"),
    ({"strategy": "multi_worker"}, "the multi_worker strategy needs TF_CONFIG"),
])
def test_distribute_table_errors_are_one_line(monkeypatch, table, what):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(RecipeError) as info:
        DistributeSpec(**table)
    assert info.value.what == what


def test_tf_config_gives_the_worker_index_with_the_chief_first(monkeypatch):
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 1}}))
    assert worker_task() == (2, 3)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "chief", "index": 0}}))
    assert worker_task() == (0, 3)
    with pytest.raises(RecipeError) as info:  # tune and sensitivity run on one machine
        one_machine(DistributeSpec(strategy="multi_worker"), "tune")
    assert info.value.what == "tune runs on one machine"
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(RecipeError) as info:
        worker_task()
    assert info.value.what.startswith("TF_CONFIG is not a cluster description")


@pytest.mark.slow
def test_mirrored_over_two_cpus_matches_one_device_and_resumes(tmp_path, tiny_npz):
    """One device, then two mirrored CPUs; the mirrored build stopped in its (distilled)
    fine-tune resumes to the bytes of the uninterrupted one: deterministic under the
    strategy."""
    build(write(tmp_path, tiny_npz, finetune_epochs=5, teacher="baseline"),
          "--out", tmp_path / "one")
    recipe = write(tmp_path, tiny_npz, MIRRORED, finetune_epochs=5, teacher="baseline",
                   name="mirrored.toml")
    build(recipe, "--out", tmp_path / "two")
    (single, _), (mirrored, report) = (stage_outputs(tmp_path / d, "train")
                                       for d in ("one", "two"))
    assert mirrored["strategy"] == "MirroredStrategy" and mirrored["replicas"] == 2
    assert "replicas" not in single
    assert mirrored["steps"] == single["steps"] == 3 * 18  # global batch 32: 576 samples
    assert abs(mirrored["test_accuracy"] - single["test_accuracy"]) <= 0.05  # 200 samples
    assert report["recipe"]["distribute"]["cpu_devices"] == 2

    out = stopped_and_resumed(recipe, tmp_path / "resumed", epochs=2)
    assert (out / "model.tflite").read_bytes() == (tmp_path / "two" / "model.tflite").read_bytes()
    finetune, report = stage_outputs(out, "finetune")
    assert report["resumed"]["stage"] == 3 and finetune["epochs"] == 5
    assert finetune["replicas"] == 2 and finetune["steps"] == 5 * 18
    assert finetune["loss_fn"].startswith("distillation")
    assert report["sparsity"]["overall"] == pytest.approx(0.6, abs=0.01)


@pytest.mark.slow
def test_a_subclassed_keras3_model_trains_mirrored_and_resumes(tmp_path, tiny_npz):
    """The keras3 engine under MirroredStrategy: the model and its masks move into the
    strategy and back; a build stopped in its distilled fine-tune resumes to the same bytes."""
    recipe = write(tmp_path, tiny_npz, MIRRORED, finetune_epochs=5, teacher="baseline",
                   model="keras3_models:subclassed")
    build(recipe, "--out", tmp_path / "whole")
    finetune, report = stage_outputs(tmp_path / "whole", "finetune")
    assert report["model"]["engine"] == "keras3"
    assert finetune["strategy"] == "MirroredStrategy" and finetune["replicas"] == 2
    assert report["sparsity"]["overall"] == pytest.approx(0.6, abs=0.01)
    out = stopped_and_resumed(recipe, tmp_path / "resumed", epochs=1)
    for name in ("model.tflite", "model.keras"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_local_workers_finish_a_fine_tune(tmp_path, tiny_npz):
    recipe = write(tmp_path, tiny_npz, CLUSTER, train_epochs=1)
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "out"
    processes = [prune2edge_process("build", recipe, "--out", out, "--quiet", env={
        **os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                               "task": {"type": "worker", "index": i}})})
                 for i in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    finetune, report = stage_outputs(out, "finetune")
    assert finetune["strategy"] == "MultiWorkerMirroredStrategy"
    assert finetune["replicas"] == 2 and finetune["workers"] == 2
    assert report["status"] == "ok" and (out / "model.tflite").exists()
    assert not (tmp_path / "out.worker1").exists()  # the other worker cleaned up
