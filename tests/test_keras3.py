"""Keras 3 models as people write them, translated to tf_keras: operations recorded without a
layer (operators, keras.ops), the activations tf_keras lacks, and layers of a user's own with
a registered translation; each translation verified against Keras 3 and converted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import made_once
from prune2edge.cli import app
from prune2edge.errors import ModelError
from prune2edge.keras.converter import to_tflite
from prune2edge.keras.load import load
from prune2edge.tflite.runner import TFLiteRunner

SOURCES = Path(__file__).parent / "keras3_sources"
runner = CliRunner()


def keras3_env():
    return {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}


def write_sources(root):
    for name in ("my_layers.py", "write_models.py"):
        shutil.copy(SOURCES / name, root / name)
    out = subprocess.run([sys.executable, str(root / "write_models.py"), str(root)],
                         env=keras3_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The models of keras3_sources/write_models.py, written by Keras 3 in its own process
    (once per test session)."""
    return made_once(tmp_path_factory, "keras3-sources", write_sources)


@pytest.mark.slow
def test_operations_and_keras3_activations_translate_exactly(files):
    loaded = load("ops.keras", files, engine="tf_keras")
    translation = loaded.details["translation"]
    assert translation["operations"] >= 20
    assert translation["max_abs_diff"] <= 1e-4  # at the outputs and 12 tensors inside
    keras3 = __import__("keras")
    source = keras3.saving.load_model(files / "ops.keras")
    x = np.random.default_rng(1).uniform(0, 255, (8, 28, 28, 1)).astype(np.float32)
    path = files / "ops.tflite"
    path.write_bytes(to_tflite(loaded.model, None, sparse=False))
    np.testing.assert_allclose(TFLiteRunner(path).predict(x), np.asarray(source(x)),
                               atol=1e-3, rtol=1e-3)


def test_operations_without_a_translation_are_named_with_the_reason(files):
    with pytest.raises(ModelError) as info:
        load("refused.keras", files, engine="tf_keras")
    what = info.value.what
    assert what.startswith("Keras 3 operations without a tf_keras translation")
    assert "(TrueDivide: divides a number by a tensor)" in what
    assert "(TrueDivide: divides a tensor by a tensor)" in what


@pytest.mark.slow
def test_a_registered_translation_builds_and_prunes_structurally(files, tiny_npz, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"""
version = 1
name = "own-layer"
[model]
source = "{files}/my_layers.py:model"
engine = "tf_keras"
[data]
source = "{tiny_npz}"
[[stages]]
kind = "structural"
ratio = 0.5
[[stages]]
kind = "convert"
sparse = "off"
""")
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(recipe), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    translation = report["model"]["translation"]
    assert translation["registered_translations"] == ["scale (ChannelScale)"]
    assert translation["max_abs_diff"] <= 1e-4
    widths = {layer["layer"]: layer["width_after"]
              for layer in report["structural"][0]["layers"]}
    assert widths["scale"] == 4  # the translated scale follows its conv's channels

    recipe.write_text(recipe.read_text().replace(":model", ":untranslated"))
    result = runner.invoke(app, ["build", str(recipe), "--out", str(tmp_path / "no")])
    assert result.exit_code == 1
    assert "(Untranslated) has no tf_keras equivalent" in result.stderr
    assert "register_keras3_translation" in result.stderr
