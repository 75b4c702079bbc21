"""A full disk while a build writes its checkpoint, its .tflite or its report: one line that
says how much to free, no partial files left, and the previous good build as it was."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.engine.checkpoint import RESUME_DIR, STATE, Checkpointer

TRAIN = """
[[stages]]
kind = "train"
epochs = 2
"""
CONVERT = """
[[stages]]
kind = "convert"
sparse = "off"
"""


def files(folder):
    """Every file and folder under `folder`, with the files' content."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in folder.rglob("*")}


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB file system (tmpfs), where this machine lets the tests mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk, leave: int) -> None:
    """Take all but `leave` bytes of the disk's free space."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler", "wb") as filler:
        filler.write(b"\0" * max(0, free - leave))


@pytest.mark.slow
@pytest.mark.parametrize(("stages", "leave"), [(TRAIN + CONVERT, 150_000), (CONVERT, 60_000)],
                         ids=["checkpoint", "artifacts"])
def test_a_full_disk_is_one_line_and_the_previous_build_stays(small_disk, tiny_npz, tmp_path,
                                                              stages, leave):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'version = 1\n[model]\nsource = "tiny_models:mlp"\n[data]\n'
                      f'source = "{tiny_npz}"\n{stages}')
    out = small_disk / "out"
    args = ["build", str(recipe), "--out", str(out), "--quiet", "--force"]
    assert CliRunner().invoke(app, args).exit_code == 0
    good = files(out)
    fill(small_disk, leave)
    result = CliRunner().invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("error: no space left on the device while writing the build"), \
        lines[0]
    assert "MB or choose another --out" in lines[0] and "Traceback" not in result.output
    assert files(out) == good  # nothing half-written, nothing of the good build lost


class _FullDisk:
    """A model whose `save` writes part of the file, then finds the disk full."""

    layers = ()  # no wrappers: it reads back as saved

    def save(self, path):
        with open(path, "wb") as file:
            file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_checkpoint_that_cannot_be_written_leaves_the_last_one_whole(tmp_path, make_ctx):
    ctx = make_ctx()
    checkpoints = Checkpointer(tmp_path, {"recipe": "r", "data": "d", "model": "m"})
    checkpoints.save(stage_index=1, epochs_done=1, epoch_logs=[{"loss": 1.0}], records=[],
                     model=ctx.model, baseline_model=ctx.model)
    saved = files(tmp_path / RESUME_DIR)
    with pytest.raises(OSError) as error:
        checkpoints.save(stage_index=1, epochs_done=2, epoch_logs=[{"loss": 1.0}] * 2,
                         records=[], model=_FullDisk(), baseline_model=ctx.model)
    assert error.value.errno == errno.ENOSPC
    assert files(tmp_path / RESUME_DIR) == saved  # no partial folder, the last one whole
    assert json.loads((tmp_path / RESUME_DIR / STATE).read_text())["epochs_done"] == 1
    assert checkpoints.load(()).epochs_done == 1
