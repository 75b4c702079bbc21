"""Shared fixtures: a small MNIST subset on disk, tiny models, recipe writers, and the README's
first build (shortened)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from processes import prune2edge_process
from prune2edge import data as data_mod
from prune2edge.engine.context import BuildContext, BuildSetup
from prune2edge.progress import Reporter
from prune2edge.report.results import StageResult

TRAIN, TEST = 640, 200


# Fixtures that train or build: a test that asks for one is slow (`make test`), never in
# `make test-fast`, which must stay a quick edit loop.
COSTLY_FIXTURES = {"tiny_files", "mnist_cnn", "tuned", "build_dir", "built", "interrupted",
                   "previous", "files", "keras3_files", "outlier_model", "digits", "saved"}


def pytest_collection_modifyitems(items):
    for item in items:
        if COSTLY_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_arrays() -> dict[str, np.ndarray]:
    """The first 640 train / 200 test samples of the bundled MNIST split."""
    arrays = data_mod.load(data_mod.DataSpec(), Path.cwd(), (28, 28)).arrays
    return {"x_train": arrays["x_train"][:TRAIN], "y_train": arrays["y_train"][:TRAIN],
            "x_test": arrays["x_test"][:TEST], "y_test": arrays["y_test"][:TEST]}


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder `make` fills once per test session, shared by every xdist worker (a costly
    fixture is otherwise made again on each worker that runs one of its tests). Tests must
    not change what is in it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above the workers' own
    root = base / f"shared-{name}"
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait for the first to finish
        if not (root / ".made").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            make(root)
            (root / ".made").touch()
    return root


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory, tiny_arrays) -> Path:
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, **tiny_arrays)
    return path


@pytest.fixture
def write_recipe(tmp_path, tiny_npz):
    """Write a recipe into tmp_path: header for a tiny model on tiny data, plus `stages`."""

    def write(stages: str, model: str = "tiny_models:mlp", extra: str = "",
              name: str = "recipe.toml") -> Path:
        text = textwrap.dedent(f"""\
            version = 1
            name = "tiny"
            seed = 0

            [model]
            source = "{model}"

            [data]
            source = "{tiny_npz}"
            {textwrap.dedent(extra)}
            """) + textwrap.dedent(stages)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


TRAIN_CONVERT = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "convert"
sparse = "off"
"""

STANDARD_STAGES = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "prune"
schedule = { kind = "constant_sparsity", target_sparsity = 0.6, begin_step = 0, frequency = 5 }

[[stages]]
kind = "finetune"
epochs = 1

[[stages]]
kind = "strip"

[[stages]]
kind = "measure"

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
"""


@pytest.fixture
def standard_stages() -> str:
    return STANDARD_STAGES


def tiny_context(arrays: dict[str, np.ndarray], work_dir: Path,
                 factory: str = "mlp") -> BuildContext:
    """A BuildContext for a tiny model on tiny data, seeded as the pipeline would start it."""
    import tiny_models
    from prune2edge.engine.prepare import seed_everything
    from prune2edge.keras import model as keras_model

    seed_everything(0)
    model = getattr(tiny_models, factory)()
    dataset = data_mod.fit_to_model(data_mod.RawData(arrays, "tiny"),
                                    keras_model.input_shape(model),
                                    keras_model.output_units(model))
    work_dir.mkdir(exist_ok=True)
    return BuildContext(BuildSetup(work_dir, dataset, 0, Reporter()), model=model,
                        baseline_model=model)


def run_stages(ctx: BuildContext, *stages) -> BuildContext:
    """Run stages directly (as the pipeline does, with look-ahead), without a build dir."""
    for index, stage in enumerate(stages):
        ctx = stage.run(ctx.controlled(remaining=stages[index + 1:]).with_result(StageResult()))
    return ctx


@dataclass(frozen=True)
class TinyFiles:
    """One tiny pruned MLP (80% sparse), as Keras files and .tflite files in several forms."""

    ctx: BuildContext  # ctx.model is the stripped Keras model (read back from its file)
    block_ctx: BuildContext  # the same pruned in 4x1 Keras blocks (1x4 as TFLite stores them)
    files: dict[str, Path]


def _make_tiny_files(work: Path, arrays: dict[str, np.ndarray]) -> None:
    from prune2edge.sparsity.schedules import ConstantSparsity
    from prune2edge.stages import Convert, FineTune, Prune, Quantize, Strip, Train

    schedule = ConstantSparsity(target_sparsity=0.8, frequency=5)
    trained = run_stages(tiny_context(arrays, work / "a"), Train(epochs=1))
    ctx = run_stages(trained, Prune(schedule=schedule), FineTune(epochs=1), Strip())
    block_ctx = run_stages(trained, Prune(schedule=schedule, block_size=(4, 1)),
                           FineTune(epochs=1), Strip())
    variants = {
        "float_dense": (ctx, (Convert(sparse="off"),)),
        "float_sparse": (ctx, (Convert(sparse="on"),)),
        "float_block_sparse": (block_ctx, (Convert(sparse="on"),)),
        "int8_sparse": (ctx, (Quantize(samples=20), Convert(sparse="on"))),
        "int8_dense_int8_io": (ctx, (Quantize(samples=20, io_type="int8"),
                                     Convert(sparse="off"))),
    }
    for name, (start, stages) in variants.items():
        (work / f"{name}.tflite").write_bytes(run_stages(start, *stages).tflite["final"]
                                              .read_bytes())
    ctx.model.save(work / "model.h5")
    ctx.model.save(work / "model.keras")
    block_ctx.model.save(work / "block.keras")


TINY_FILES = ("float_dense", "float_sparse", "float_block_sparse", "int8_sparse",
              "int8_dense_int8_io")


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory, tiny_arrays) -> TinyFiles:
    """Made once for every worker; the Keras models read back from their files."""
    from prune2edge import _compat

    root = made_once(tmp_path_factory, "tiny-files",
                     lambda work: _make_tiny_files(work, tiny_arrays))
    files = {name: root / f"{name}.tflite" for name in TINY_FILES}
    files |= {"keras_h5": root / "model.h5", "keras": root / "model.keras"}
    load = _compat.keras().models.load_model
    work = tmp_path_factory.mktemp("tiny-files")
    ctx, block_ctx = (tiny_context(tiny_arrays, work / name).evolve(model=load(path))
                      for name, path in (("ctx", files["keras"]),
                                         ("block", root / "block.keras")))
    return TinyFiles(ctx, block_ctx, files)


@pytest.fixture
def make_ctx(tmp_path, tiny_arrays):
    def make(factory: str = "mlp", **changes) -> BuildContext:
        return tiny_context(tiny_arrays, tmp_path / "work", factory).evolve(**changes)

    return make


# The example, shortened: the tests' 640 training images, one epoch and two of fine-tuning.
SHORTER = ("--set", "stages.train.epochs=1", "--set", "stages.finetune.epochs=2",
           "--set", "stages.prune.schedule.frequency=4", "--set", "stages.validate.runs=50")


def build_example(root: Path, out: Path, npz: Path) -> dict:
    """`prune2edge build mnist_cnn --out OUT`, shortened, in a fresh process from `root`."""
    process = prune2edge_process("build", "mnist_cnn", "--out", out, "--quiet",
                                 "--set", f"data.source={npz}", *SHORTER, cwd=root)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def mnist_cnn(tmp_path_factory, tiny_npz):
    """`build/mnist_cnn` in a folder that looks like the repository (models/ beside build/:
    the recipes, and a baseline of this build, as the shortened build is not the committed
    baseline's), made once for every worker."""
    from prune2edge.cli import app

    def make(root):
        models = root / "models"
        models.mkdir()
        for path in (Path(__file__).resolve().parents[1] / "models").iterdir():
            if path.name != "mnist_cnn.baseline.json":
                (models / path.name).symlink_to(path)
        out = root / "build" / "mnist_cnn"
        build_example(root, out, tiny_npz)
        recorded = CliRunner().invoke(app, ["check", str(out), "--update-baseline", "--baseline",
                                            str(models / "mnist_cnn.baseline.json")])
        assert recorded.exit_code in (0, 3), recorded.output

    return made_once(tmp_path_factory, "repository", make)
