"""The model is handed back: every build writes its final Keras model beside the .tflite,
plain (no pruning wrappers), as small as structural pruning made it, loadable by tf_keras
alone, and predicting what the float .tflite of the same build predicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from prune2edge import build
from prune2edge.sizes import sha256
from prune2edge.tflite.runner import TFLiteRunner

STAGES = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "structural"
ratio = 0.5

[[stages]]
kind = "prune"
schedule = { kind = "constant_sparsity", target_sparsity = 0.6, begin_step = 0, frequency = 5 }

[[stages]]
kind = "finetune"
epochs = 1

[[stages]]
kind = "strip"

[[stages]]
kind = "convert"
sparse = "off"
"""
# Loads the handed-back model the way a user's own code would: tf_keras, nothing else.
PLAIN = """
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tf_keras
model = tf_keras.models.load_model(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps({"argmax": model.predict(x, verbose=0).argmax(1).tolist(),
                  "layers": [type(layer).__name__ for layer in model.layers],
                  "params": int(model.count_params()),
                  "imported_prune2edge": any(m.startswith("prune2edge") for m in sys.modules)}))
"""


def load_plainly(path, x, tmp_path) -> dict:
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", PLAIN, str(path), str(tmp_path / "x.npy")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_npz):
    root = tmp_path_factory.mktemp("handback")
    recipe = root / "recipe.toml"
    recipe.write_text(f'version = 1\nname = "handback"\n[model]\nsource = "tiny_models:cnn"\n'
                      f'[data]\nsource = "{tiny_npz}"\n{STAGES}')
    return recipe, build(recipe, root / "out")


@pytest.mark.slow
def test_the_final_model_loads_with_tf_keras_alone_and_predicts_what_its_tflite_does(
        built, tiny_arrays, tmp_path):
    _, report = built
    out = report.out_dir
    assert report.artifacts["model.keras"]["sha256"] == sha256(out / "model.keras")
    x = (tiny_arrays["x_test"].astype(np.float32) / 255)[..., None]
    plain = load_plainly(out / "model.keras", x, tmp_path)
    assert not plain["imported_prune2edge"]
    assert "PruneLowMagnitude" not in plain["layers"]
    tflite = TFLiteRunner(out / "model.tflite").predict(x).argmax(1)
    assert np.mean(np.array(plain["argmax"]) == tflite) >= 0.999
    structural = report.structural[0]
    assert plain["params"] == structural["params_after"] < structural["params_before"]
    assert report.sparsity["overall"] > 0.3  # the zeros are in the model handed back


@pytest.mark.slow
def test_the_model_handed_back_is_the_same_bytes_every_build(built, tmp_path):
    recipe, report = built
    again = build(recipe, tmp_path / "again")
    assert again.artifacts["model.keras"] == report.artifacts["model.keras"]


@pytest.mark.slow
def test_a_build_stopped_early_hands_back_its_model_stripped(built, tmp_path):
    recipe, _ = built
    report = build(recipe, tmp_path / "until", until="finetune")
    plain = load_plainly(tmp_path / "until" / "model.keras", np.zeros((1, 28, 28, 1), np.float32),
                         tmp_path)
    assert "PruneLowMagnitude" not in plain["layers"]
    assert "model.keras" in report.artifacts and "model.tflite" not in report.artifacts


@pytest.mark.slow
def test_an_h5_model_gets_an_h5_back(tiny_files, tiny_npz, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'version = 1\n[model]\nsource = "{tiny_files.files["keras_h5"]}"\n'
                      f'[data]\nsource = "{tiny_npz}"\n[[stages]]\nkind = "convert"\n')
    report = build(recipe, tmp_path / "out")
    assert {"model.keras", "model.h5"} <= set(report.artifacts)
