"""Damaged inputs never crash: recipes, data files, image folders and TFRecords that are not
what they claim give one `error:` line naming the file and the fix, exit 1, no traceback,
nothing half-written, and a previous build left as it was."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import TRAIN_CONVERT
from prune2edge.cli import app
from prune2edge.recipe import load_recipe


def build(recipe, out, *args):
    return CliRunner().invoke(app, ["build", str(recipe), "--out", str(out), "--quiet",
                                    "--force", *args])


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def previous(tmp_path_factory, tiny_npz):
    """A good build, to damage the inputs of the next build into the same folder."""
    root = tmp_path_factory.mktemp("previous")
    recipe = root / "good.toml"
    recipe.write_text(f'version = 1\n[model]\nsource = "tiny_models:mlp"\n[data]\n'
                      f'source = "{tiny_npz}"\n{TRAIN_CONVERT}')
    assert build(recipe, root / "out").exit_code == 0
    return root / "out"


def assert_intact(out, before):
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in out.rglob("*") if p.name.startswith((".tmp-", ".staging-"))]


@pytest.fixture
def out(previous, tmp_path):
    """A copy of the good build, and its files, to check nothing of it changed."""
    import shutil

    target = tmp_path / "out"
    shutil.copytree(previous, target)
    return target


def recipe_for(tmp_path, source, model="tiny_models:mlp"):
    path = tmp_path / "recipe.toml"
    path.write_text(f'version = 1\n[model]\nsource = "{model}"\n[data]\nsource = "{source}"\n'
                    + TRAIN_CONVERT)
    return path


def test_a_recipe_that_is_not_utf8(tmp_path, out):
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    recipe = tmp_path / "recipe.toml"
    recipe.write_bytes('version = 1\nname = "caf\u00e9"\n'.encode("latin-1"))
    line = one_error_line(build(recipe, out))
    assert "the recipe is not UTF-8 text (byte 0xe9 at offset 23)" in line
    assert str(recipe) in line and line.endswith("save it as UTF-8, the encoding TOML requires")
    assert_intact(out, before)


@pytest.mark.parametrize(("line", "message"), [
    ("seed = 4294967296", "seed must be an integer from 0 to 4294967295, got 4294967296"),
    ("seed = -1", "seed must be an integer from 0 to 4294967295, got -1"),
    ('name = ".."', "name '..' cannot name a folder inside build/"),
    ('name = "/etc/cron.d"', "name '/etc/cron.d' cannot name a folder inside build/"),
    ('name = "a\\u0000b"', "name 'a\\x00b' cannot name a folder inside build/"),
    (f'name = "{"n" * 241}"', "name is 241 bytes long, more than a folder name may be (240)"),
])
def test_out_of_range_values_are_refused_when_the_recipe_is_read(tmp_path, line, message):
    from prune2edge.errors import RecipeError

    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'version = 1\n{line}\n[model]\nsource = "tiny_models:mlp"\n[data]\n'
                      f'source = "builtin:mnist"\n{TRAIN_CONVERT}')
    with pytest.raises(RecipeError) as error:
        load_recipe(recipe)
    assert message in str(error.value)


@pytest.mark.parametrize(("override", "where"), [
    ("stages.train.learning_rate=inf", "stage 1 (train).learning_rate"),
    ("stages.train.learning_rate=nan", "stage 1 (train).learning_rate"),
    ("budgets.max_accuracy_drop=nan", "budgets.max_accuracy_drop"),
    ("budgets.max_gzip_bytes=inf", "budgets.max_gzip_bytes"),
])
def test_non_finite_numbers_are_refused_when_the_recipe_is_read(tmp_path, override, where):
    from prune2edge.errors import RecipeError

    recipe = recipe_for(tmp_path, "builtin:mnist")
    with pytest.raises(RecipeError) as error:
        load_recipe(recipe, [override])
    assert "expected" in error.value.what and where in str(error.value)


def npy(shape, dtype="<f4", data=b"") -> bytes:
    """An .npy file whose header declares `shape`, followed by `data`."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def write_npz(path, members):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)


def arrays_as_npy(arrays):
    found = {}
    for key, value in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, value)
        found[key] = buffer.getvalue()
    return found


@pytest.mark.parametrize(("member", "content", "message"), [
    ("x_train", npy(()), "x_train is a single number, not an array of samples"),
    ("x_train", npy((10**12, 28, 28)), "x_train declares shape (1000000000000, 28, 28)"),
    ("y_train", npy((640,), "|O"), "y_train holds Python objects"),
])
def test_data_arrays_that_are_scalars_or_declare_absurd_shapes(tmp_path, out, tiny_arrays,
                                                                member, content, message):
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    members = arrays_as_npy(tiny_arrays) | {member: content}
    write_npz(tmp_path / "data.npz", members)
    line = one_error_line(build(recipe_for(tmp_path, tmp_path / "data.npz"), out))
    assert message in line and str(tmp_path / "data.npz") in line
    assert_intact(out, before)


def test_a_data_function_returning_single_values(tmp_path, out):
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "scalars.py").write_text("def data():\n    return 3, 4\n")
    line = one_error_line(build(recipe_for(tmp_path, "scalars.py:data"), out))
    assert "x and y must be arrays with one row per sample, not single values" in line
    assert_intact(out, before)


def _damaged_png(path):
    path.write_bytes(path.read_bytes()[:60])  # the header survives, the image data does not


@pytest.mark.slow
@pytest.mark.parametrize("which", ["first", "a later"])
def test_an_image_folder_with_a_damaged_image_names_it(tmp_path, out, tiny_arrays, which):
    from test_streaming import write_digits

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    folder = write_digits(tmp_path / "digits", tiny_arrays, count=200)
    files = sorted(folder.rglob("*.png"))
    damaged = files[0] if which == "first" else files[150]
    _damaged_png(damaged)
    line = one_error_line(build(recipe_for(tmp_path, folder, "tiny_models:cnn"), out))
    assert "cannot decode the image" in line and str(damaged) in line, line
    assert line.endswith("replace the file with a readable image, or remove it")
    assert_intact(out, before)


def test_a_truncated_tfrecord_file_is_named(tmp_path, out, tiny_arrays):
    from test_streaming import write_digits, write_records

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    folder = write_digits(tmp_path / "digits", tiny_arrays, count=200)
    first, second = tmp_path / "shard-0.tfrecord", tmp_path / "shard-1.tfrecord"
    write_records(folder, first, second)
    second.write_bytes(second.read_bytes()[:-100])
    line = one_error_line(build(recipe_for(tmp_path, tmp_path / "shard-*.tfrecord",
                                           "tiny_models:cnn"), out))
    assert "the TFRecord file is damaged" in line and str(second) in line and str(first) not in line
    assert_intact(out, before)


def test_a_misspelt_factory_names_the_users_file_and_the_nearest_name(tmp_path, tiny_npz):
    (tmp_path / "my_models.py").write_text("def small_cnn():\n    pass\n")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'version = 1\n[model]\nsource = "my_models.py:smal_cnn"\n[data]\n'
                      f'source = "{tiny_npz}"\n{TRAIN_CONVERT}')
    line = one_error_line(build(recipe, tmp_path / "out"))
    assert f"{tmp_path / 'my_models.py'} has no function 'smal_cnn'" in line
    assert "did you mean 'small_cnn'?" in line and "prune2edge_user" not in line
    assert json.dumps(line)  # one plain line
