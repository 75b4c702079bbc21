"""The build directory: refuse to clobber, one writer, all-or-nothing commit."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from prune2edge.engine import outdir
from prune2edge.engine.checkpoint import RESUME_DIR, STATE, Checkpointer
from prune2edge.engine.outdir import LOCK_NAME, BuildDir
from prune2edge.errors import OutputError


def test_commit_moves_staged_files_and_cleans_up(tmp_path):
    out = tmp_path / "out"
    with BuildDir(out) as build_dir:
        (build_dir.staging / "model.tflite").write_bytes(b"x")
        (build_dir.staging / "report.json").write_text("{}")
        build_dir.commit()
    assert sorted(p.name for p in out.iterdir()) == ["model.tflite", "report.json"]


def test_a_failed_build_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), BuildDir(out) as build_dir:
        (build_dir.staging / "model.tflite").write_bytes(b"half")
        raise RuntimeError("boom")
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(RuntimeError), BuildDir(existing):
        raise RuntimeError("boom")
    assert existing.is_dir() and list(existing.iterdir()) == []


def test_non_empty_directory_needs_force(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as info, BuildDir(tmp_path):
        pass
    assert info.value.what == "the output directory is not empty (notes.txt)"
    assert "--force" in info.value.fix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_force_replaces_an_earlier_build_but_not_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "old.png").write_text("stale")
    (tmp_path / "report.json").write_text(json.dumps({"artifacts": {"old.png": {}}}))
    with BuildDir(tmp_path, force=True) as build_dir:
        (build_dir.staging / "report.json").write_text("{}")
        build_dir.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "report.json"]


def test_a_second_writer_is_refused(tmp_path):
    with BuildDir(tmp_path / "out"):
        with pytest.raises(OutputError) as info, BuildDir(tmp_path / "out"):
            pass
        assert info.value.what == "another build is writing to this directory"
        assert (tmp_path / "out" / LOCK_NAME).exists()
    assert not (tmp_path / "out").exists()


def test_unwritable_directory(tmp_path):
    (tmp_path / "file").write_text("")  # a directory cannot be made under a file, even by root
    with pytest.raises(OutputError) as info, BuildDir(tmp_path / "file" / "out"):
        pass
    assert info.value.what == "cannot write to the output directory (Not a directory)"


def test_output_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError) as info, BuildDir(tmp_path / "file"):
        pass
    assert info.value.what == "the output path is a file"


class StopsWhileSaved:
    """Stands in for a model: its save sends `number` to this process halfway through."""

    layers = ()  # no wrappers: it reads back as saved

    def __init__(self, number: int):
        self.number = number

    def save(self, path):
        Path(path).write_bytes(b"first half")
        os.kill(os.getpid(), self.number)
        Path(path).write_bytes(b"first half, second half")


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_during_a_checkpoint_waits_for_it_to_be_whole(tmp_path, number):
    """Ctrl-C, or SIGTERM turned into one (as the CLI does), while a checkpoint is written and
    the last one removed: the new one is finished first, then the stop lands as an interrupt."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    checkpoints = Checkpointer(tmp_path, {"recipe": "r"})
    try:
        whole = SavedWhole()
        checkpoints.save(stage_index=0, epochs_done=1, epoch_logs=[], records=[],
                         model=whole, baseline_model=whole)
        stopping = StopsWhileSaved(number)
        with pytest.raises(KeyboardInterrupt):
            checkpoints.save(stage_index=0, epochs_done=2, epoch_logs=[], records=[],
                             model=stopping, baseline_model=stopping)
    finally:
        signal.signal(signal.SIGTERM, previous)
    folder = tmp_path / RESUME_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["stage0-epoch2", STATE]
    assert (folder / "stage0-epoch2" / "model.keras").read_bytes() == b"first half, second half"
    assert json.loads((folder / STATE).read_text())["epochs_done"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class SavedWhole:
    layers = ()  # no wrappers: it reads back as saved

    def save(self, path):
        Path(path).write_bytes(b"whole")


def test_a_stop_during_a_commit_waits_for_it(tmp_path, monkeypatch):
    """Ctrl-C as the first staged file moves in: every file moves in, then the stop lands."""
    moved = os.replace

    def stopped_then_moved(source, target):
        os.kill(os.getpid(), signal.SIGINT)
        moved(source, target)

    monkeypatch.setattr(outdir.os, "replace", stopped_then_moved)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), BuildDir(out) as build_dir:
        (build_dir.staging / "model.tflite").write_bytes(b"x")
        (build_dir.staging / "report.json").write_text("{}")
        build_dir.commit()
    assert sorted(p.name for p in out.iterdir()) == ["model.tflite", "report.json"]
