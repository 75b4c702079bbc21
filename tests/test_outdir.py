"""The build directory: refuse to clobber, one writer, all-or-nothing commit."""

from __future__ import annotations

import json

import pytest

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
