"""Checkpoints: a build interrupted at any epoch resumes to the same bytes, resuming on
changed data is refused, and a damaged checkpoint is one line that says to start over."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import signal

import numpy as np
import pytest
from typer.testing import CliRunner

from processes import prune2edge_process, wait_for_epochs
from prune2edge import build
from prune2edge.cli import app
from prune2edge.engine.checkpoint import RESUME_DIR, STATE
from prune2edge.errors import Interrupted
from prune2edge.progress import Reporter, Task

RECIPE = """
version = 1
name = "resumable"
[model]
source = "tiny_models:{model}"
[data]
source = "{data}"

[[stages]]
kind = "train"
epochs = 3

[[stages]]
kind = "prune"
schedule = {{ kind = "polynomial_decay", final_sparsity = 0.6, frequency = 5 }}

[[stages]]
kind = "finetune"
epochs = 3

[[stages]]
kind = "strip"

[[stages]]
kind = "convert"
sparse = "off"
"""
COMPARED = ("model.tflite", "baseline.tflite", "model.keras")


class StopAfter(Reporter):
    """Ctrl-C once stage `kind` has finished `epochs` epochs (its checkpoint written)."""

    def __init__(self, kind: str, epochs: int):
        self.kind, self.epochs = kind, epochs

    @contextlib.contextmanager
    def task(self, description, total, unit="steps"):
        reporter = self

        class Stopping(Task):
            def log(self, line):
                if description == reporter.kind and line.startswith(f"epoch {reporter.epochs}/"):
                    raise KeyboardInterrupt

        yield Stopping()


def digests(out):
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in COMPARED}


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, tiny_npz):
    """A folder with a recipe, its data and a build stopped after the first fine-tune epoch."""
    root = tmp_path_factory.mktemp("interrupted")
    shutil.copy(tiny_npz, root / "tiny.npz")
    (root / "recipe.toml").write_text(RECIPE.format(model="mlp", data="tiny.npz"))
    with pytest.raises(Interrupted):
        build(root / "recipe.toml", root / "out", reporter=StopAfter("finetune", 1))
    return root


@pytest.fixture
def copy(interrupted, tmp_path):
    """A copy of the interrupted build to damage."""
    target = tmp_path / "copy"
    shutil.copytree(interrupted, target)
    return target


def resume(root, *args):
    return CliRunner().invoke(app, ["build", str(root / "recipe.toml"), "--out",
                                    str(root / "out"), "--quiet", *args])


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def checkpoint_files(root):
    state = json.loads((root / "out" / RESUME_DIR / STATE).read_text())
    folder = root / "out" / RESUME_DIR / state["folder"]
    return {"state.json": root / "out" / RESUME_DIR / STATE,
            "model.keras": folder / "model.keras", "baseline.keras": folder / "baseline.keras"}


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path):
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("damage", [truncate, flip, lambda p: p.unlink()],
                         ids=["truncated", "bit-flipped", "deleted"])
@pytest.mark.parametrize("file", ["state.json", "model.keras", "baseline.keras"])
def test_a_damaged_checkpoint_is_one_line_that_says_to_start_over(copy, file, damage):
    damage(checkpoint_files(copy)[file])
    line = one_error_line(resume(copy, "--resume"))
    assert "checkpoint is damaged" in line and file in line, line
    assert line.endswith("pass --force to start over (the checkpoint is discarded)")
    # the advice leads out, not in a circle: without --resume the checkpoint is pointed at,
    # and --force (not --resume) is what that advice offers besides
    again = one_error_line(resume(copy))
    assert "pass --resume to continue it, or --force to start over" in again


def test_resuming_on_changed_data_is_refused(copy):
    with np.load(copy / "tiny.npz") as npz:
        arrays = dict(npz)
    arrays["y_train"][0] = (arrays["y_train"][0] + 1) % 10  # one label changed
    np.savez(copy / "tiny.npz", **arrays)
    line = one_error_line(resume(copy, "--resume"))
    assert line.startswith("error: the data changed since the build was interrupted")
    assert line.endswith("resume on the same data, or pass --force to start over")


def test_resuming_another_recipe_is_refused(copy):
    recipe = copy / "recipe.toml"
    recipe.write_text(recipe.read_text().replace("epochs = 3\n\n[[stages]]\nkind = \"strip\"",
                                                 "epochs = 4\n\n[[stages]]\nkind = \"strip\""))
    line = one_error_line(resume(copy, "--resume"))
    assert line.startswith("error: the checkpoint belongs to a build with another recipe")


@pytest.mark.slow
def test_resume_in_process_gives_the_bytes_of_an_uninterrupted_build(copy, tmp_path):
    assert resume(copy, "--resume").exit_code == 0
    whole = tmp_path / "whole"
    shutil.copytree(copy, whole, ignore=shutil.ignore_patterns("out"))
    assert resume(whole).exit_code == 0
    assert digests(copy / "out") == digests(whole / "out")
    report = json.loads((copy / "out" / "report.json").read_text())
    assert report["resumed"]["stage"] == 3 and report["resumed"]["epochs_done"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(("source", "stop"), [("npz", signal.SIGINT),
                                              ("image folder", signal.SIGTERM)])
def test_a_build_killed_in_training_and_stopped_in_fine_tuning_resumes_to_the_same_bytes(
        tmp_path, tiny_npz, tiny_arrays, source, stop):
    """SIGKILL in the middle of `train` (npz), then Ctrl-C, or SIGTERM (what CI runners and
    `kill` send), in `finetune`: the stop is one line and keeps only the checkpoint; each time
    the same command with --resume goes on, and the artifacts are those of the uninterrupted
    build."""
    from test_streaming import write_digits

    data = "tiny.npz"
    if source == "npz":
        shutil.copy(tiny_npz, tmp_path / data)
    else:
        data = "digits"
        write_digits(tmp_path / data, tiny_arrays, count=300)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(model="dropout_cnn", data=data))

    def run(out, *args):
        return prune2edge_process("build", recipe, "--out", out, "--quiet", *args)

    whole = run(tmp_path / "whole")
    assert whole.wait(timeout=300) == 0, whole.communicate()
    out = tmp_path / "out"
    state = out / RESUME_DIR / STATE
    again = ()
    if stop == signal.SIGINT:  # once is enough: a killed build resumes from its checkpoint
        killed = run(out)
        wait_for_epochs(state, 1, 1, killed)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=120)
        assert killed.returncode == -signal.SIGKILL
        again = ("--resume",)
    stopped = run(out, *again)
    wait_for_epochs(state, 3, 1, stopped)
    stopped.send_signal(stop)
    _, stderr = stopped.communicate(timeout=120)
    assert stopped.returncode == 130, stderr
    saved = json.loads(state.read_text())
    assert stderr.strip().splitlines()[-1] == (
        f"error: interrupted: stopped cleanly, nothing half-written was kept ({out}): the "
        f"checkpoint (stage 3 after epoch {saved['epochs_done']}) is kept: run the same "
        "command with --resume")
    assert sorted(p.name for p in out.iterdir()) == [RESUME_DIR]
    assert [r["kind"] for r in saved["records"]] == ["train", "prune"]
    last = run(out, "--resume")
    _, stderr = last.communicate(timeout=300)
    assert last.returncode == 0, stderr
    assert digests(out) == digests(tmp_path / "whole")
    report = json.loads((out / "report.json").read_text())
    assert report["resumed"] == {"stage": 3, "epochs_done": saved["epochs_done"],
                                 "stages_skipped": ["train", "prune"]}
    assert not (out / RESUME_DIR).exists()
