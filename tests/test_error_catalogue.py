"""The error catalogue: every bad input a user can give gets one clear line, its exit code,
and leaves nothing behind in the output directory. docs/errors.md lists the same catalogue."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.engine.outdir import BuildDir

GOOD_STAGES = """
[[stages]]
kind = "finetune"
epochs = 1
"""


@dataclass
class Case:
    id: str
    setup: Callable[[Path, Path], list[str]]  # (tmp dir, tiny npz) -> CLI arguments
    message: str
    code: int = 1


def recipe(tmp: Path, npz: Path, stages: str = GOOD_STAGES, *, model="tiny_models:mlp",
           data: str | None = None, head: str = "version = 1", extra: str = "") -> Path:
    path = tmp / "recipe.toml"
    path.write_text(textwrap.dedent(f"""\
        {head}
        [model]
        source = "{model}"
        [data]
        source = "{data or npz}"
        {extra}
        """) + textwrap.dedent(stages))
    return path


def build(*extra: str, **kwargs) -> Callable[[Path, Path], list[str]]:
    def setup(tmp: Path, npz: Path) -> list[str]:
        return ["build", str(recipe(tmp, npz, **kwargs)), "--out", str(tmp / "out"), *extra]
    return setup


def bad_npz(**change) -> Callable[[Path, Path], list[str]]:
    def setup(tmp: Path, npz: Path) -> list[str]:
        with np.load(npz) as arrays:
            values = {k: arrays[k] for k in arrays.files}
        values.update(change)
        for key in [k for k, v in change.items() if v is None]:
            values.pop(key)
        np.savez(tmp / "bad.npz", **values)
        return build(data=str(tmp / "bad.npz"))(tmp, npz)
    return setup


def file_with(name: str, content: bytes, then: Callable[[Path], list[str]]):
    def setup(tmp: Path, npz: Path) -> list[str]:
        (tmp / name).write_bytes(content)
        return then(tmp)
    return setup


def truncated_tflite(tmp: Path) -> Path:
    from prune2edge.keras.converter import to_tflite
    from tiny_models import mlp

    content = to_tflite(mlp(), None, sparse=False)
    (tmp / "cut.tflite").write_bytes(content[: len(content) // 3])
    return tmp / "cut.tflite"


def small_tflite(tmp: Path) -> Path:
    from prune2edge import _compat
    from prune2edge.keras.converter import to_tflite

    keras = _compat.keras()
    model = keras.Sequential([keras.Input((5, 5)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    (tmp / "small.tflite").write_bytes(to_tflite(model, None, sparse=False))
    return tmp / "small.tflite"


def not_a_model():
    return "a string"


def wide_input():
    from prune2edge import _compat

    keras = _compat.keras()
    return keras.Sequential([keras.Input((30, 30)), keras.layers.Flatten(),
                             keras.layers.Dense(10)])


CASES = [
    # recipe
    Case("recipe missing", lambda t, n: ["build", str(t / "nope.toml")], "recipe file not found"),
    Case("recipe not TOML", lambda t, n: ["build", str(recipe(t, n, head="version = = 1"))],
         "not valid TOML"),
    Case("unsupported version", build(head="version = 9"), "unsupported recipe version = 9"),
    Case("missing [model]", file_with("r.toml", b'version = 1\n[data]\nsource = "x.npz"\n',
                                      lambda t: ["build", str(t / "r.toml")]),
         "missing [model] table"),
    Case("missing [data]", file_with("r.toml", b'version = 1\n[model]\nsource = "a:b"\n',
                                     lambda t: ["build", str(t / "r.toml")]),
         "missing [data] table"),
    Case("unknown stage kind", build(stages="[[stages]]\nkind = 'prunee'\n"),
         "unknown stage kind 'prunee' (", ),
    Case("misspelt key", build(stages="[[stages]]\nkind = 'finetune'\nepoch = 2\n"),
         "recipe.toml: stage 1 (finetune)): did you mean 'epochs'?"),
    Case("wrong type", build(stages="[[stages]]\nkind = 'finetune'\nepochs = '2'\n"),
         "expected an integer, got a string ('2')"),
    Case("sparsity outside [0, 1)", build(stages="""
        [[stages]]
        kind = 'prune'
        schedule = { kind = 'constant_sparsity', target_sparsity = 1.0 }
        """), "target_sparsity must be in [0, 1), got 1.0"),
    Case("end_step <= begin_step", build(stages="""
        [[stages]]
        kind = 'prune'
        schedule = { kind = 'polynomial_decay', begin_step = 10, end_step = 10 }
        """), "end_step (10) must be after begin_step (10)"),
    Case("impossible stage order", build(stages="[[stages]]\nkind = 'strip'\n"),
         "strip needs pruning or clustering wrappers on the model"),
    Case("empty pipeline", build(stages=""), "the pipeline has no stages"),
    Case("bad --set", build("--set", "stages.finetune.epochs"),
         "an override needs the form KEY=VALUE"),
    Case("--set for a missing stage", build("--set", "stages.prune.block_size=[1,4]"),
         "the recipe has no prune stage"),
    # model
    Case("model file missing", build(model="missing.keras"), "model file not found"),
    Case("model file corrupt", file_with("bad.keras", b"PK\x03\x04 garbage",
                                         lambda t: build(model=str(t / "bad.keras"))(t, t)),
         "cannot load the model"),
    Case("model file truncated", file_with("cut.h5", b"\x89HDF\r\n\x1a\n\x00\x00",
                                           lambda t: build(model=str(t / "cut.h5"))(t, t)),
         "cannot read the model"),
    Case("not a Keras model", build(model="test_error_catalogue:not_a_model"),
         "the source gave a str, not a Keras Model"),
    Case("nothing prunable", build(stages="""
        [[stages]]
        kind = 'prune'
        schedule = { kind = 'constant_sparsity' }
        exclude = ['Dense']
        [[stages]]
        kind = 'finetune'
        """), "nothing to prune"),
    Case("model input does not fit the data", build(model="test_error_catalogue:wide_input"),
         "data samples have shape (28, 28) but the model expects (30, 30)"),
    # data
    Case("data file missing", build(data="missing.npz"), "data file not found"),
    Case("data keys missing", bad_npz(x_train=None), "missing arrays: it has"),
    Case("data shapes disagree", bad_npz(y_train=np.zeros(3, np.int64)),
         "x_train has 640 samples but y_train has 3"),
    Case("labels out of range", bad_npz(y_test=np.full(200, 12)),
         "y_test has labels 12..12 but the model has 10 output units"),
    Case("NaN in the data", bad_npz(x_test=np.full((200, 28, 28), np.nan, np.float32)),
         "the samples contain NaN or Inf values"),
    Case("empty split", bad_npz(x_test=np.zeros((0, 28, 28), np.uint8),
                                y_test=np.zeros(0, np.int64)), "the test split is empty"),
    Case("too few samples for the batch", build(stages="[[stages]]\nkind = 'finetune'\n"
                                                       "batch_size = 4096\n"),
         "finetune has 576 training samples for batch_size 4096"),
    # .tflite inputs
    Case("validate: file missing", lambda t, n: ["validate", str(t / "m.tflite")],
         "model file not found"),
    Case("validate: not a model", file_with("m.tflite", b"nonsense" * 30,
                                            lambda t: ["validate", str(t / "m.tflite")]),
         "not a valid .tflite model"),
    Case("validate: truncated", lambda t, n: ["validate", str(truncated_tflite(t))],
         "not a valid .tflite model"),
    Case("validate: inputs do not fit the data",
         lambda t, n: ["validate", str(small_tflite(t)), "--data", str(n)],
         "data samples have shape (28, 28) but the model expects (5, 5)"),
    Case("inspect: file missing", lambda t, n: ["inspect", str(t / "m.tflite")],
         "model file not found"),
    Case("inspect: not a model", file_with("m.tflite", b"nonsense" * 30,
                                           lambda t: ["inspect", str(t / "m.tflite")]),
         "not a TFLite model (no TFL3 identifier)"),
    Case("inspect: truncated", lambda t, n: ["inspect", str(truncated_tflite(t))],
         "cannot read the model"),
    # failures during work
    Case("NaN loss", build(stages="[[stages]]\nkind = 'finetune'\noptimizer = 'sgd'\n"
                                  "learning_rate = 1e30\n"),
         "the loss became NaN or Inf in epoch 1 of finetune", code=4),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue(case, tmp_path, tiny_npz):
    result = CliRunner().invoke(app, case.setup(tmp_path, tiny_npz))
    assert result.exit_code == case.code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and case.message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_catalogue_is_big_enough():
    assert len(CASES) >= 25


def _listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize(("prepare", "extra", "message"), [
    ("file", [], "the output directory is not empty (notes.txt)"),
    ("checkpoint", [], "an interrupted build left its checkpoint here"),
    ("file", ["--resume"], "there is no interrupted build to resume"),
    ("lock", [], "another build is writing to this directory"),
])
def test_output_directory_errors_leave_it_as_it_was(tmp_path, tiny_npz, prepare, extra,
                                                    message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    if prepare == "checkpoint":
        (out / ".prune2edge-resume").mkdir()
    args = ["build", str(recipe(tmp_path, tiny_npz)), "--out", str(out), *extra]
    before = _listing(out)
    if prepare == "lock":
        with BuildDir(out, force=True):
            result = CliRunner().invoke(app, args)
    else:
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}")
    assert _listing(out) == before


def test_unwritable_output_directory(tmp_path, tiny_npz):
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(app, ["build", str(recipe(tmp_path, tiny_npz)), "--out",
                                      str(tmp_path / "file" / "out")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot write to the output directory")
