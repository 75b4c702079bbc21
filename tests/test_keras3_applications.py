"""Every keras.applications family, its smallest member built by Keras 3 itself (random
weights, small inputs) and saved as .keras, goes through `prune2edge build`: translated to
tf_keras, verified against Keras 3 to 1e-4 (outputs and tensors inside), measured and handed
back. (That the same architectures convert, pruned, is `test_applications.py`'s part; the
MobileNetV3 the Keras 3 era ships goes through structural pruning and conversion here.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import made_once

pytestmark = pytest.mark.slow

# The smallest member of each family, and the smallest input it accepts.
FAMILIES = {"ConvNeXtTiny": 32, "DenseNet121": 32, "EfficientNetB0": 32,
            "EfficientNetV2B0": 32, "InceptionResNetV2": 75, "InceptionV3": 75, "MobileNet": 32,
            "MobileNetV2": 32, "MobileNetV3Small": 32, "MobileNetV3Large": 32,
            "NASNetMobile": 32, "ResNet50": 32, "ResNet50V2": 32, "VGG16": 32, "Xception": 71}
WRITE = """
import sys, keras
for name, size in zip(sys.argv[2::2], sys.argv[3::2]):
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(int(size),) * 2 + (3,),
                                              classes=10)
    model.save(f"{sys.argv[1]}/{name}.keras")
"""
RECIPE = """
version = 1
name = "{name}"
[model]
source = "{name}.keras"
[data]
source = "{data}"
{stages}
"""
MEASURE = '[[stages]]\nkind = "measure"\n'
STRUCTURAL = ('[[stages]]\nkind = "structural"\nratio = 0.5\n'
              '[[stages]]\nkind = "convert"\nsparse = "off"\n')


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    def make(root):
        env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
        args = [str(part) for item in FAMILIES.items() for part in item]
        out = subprocess.run([sys.executable, "-c", WRITE, str(root), *args], env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]

    return made_once(tmp_path_factory, "keras3-applications", make)


def build(root, name, data, stages=MEASURE):
    recipe = root / f"{name}{'-structural' if stages == STRUCTURAL else ''}.toml"
    recipe.write_text(RECIPE.format(name=name, data=data, stages=stages))
    out = root / recipe.stem
    done = subprocess.run([sys.executable, "-m", "prune2edge", "build", str(recipe), "--out",
                           str(out), "--quiet", "--force"], capture_output=True, text=True)
    return done, out


def test_every_family_builds_from_its_keras3_file(saved, tiny_npz):
    with ThreadPoolExecutor(2) as pool:  # two builds at a time: one per core
        results = dict(zip(FAMILIES, pool.map(lambda n: build(saved, n, tiny_npz), FAMILIES),
                           strict=True))
    failed = {name: done.stderr.strip()[-300:] for name, (done, _) in results.items()
              if done.returncode != 0}
    assert not failed
    for name, (_, out) in results.items():
        report = json.loads((out / "report.json").read_text())
        assert report["model"]["kind"] == "keras3", name
        assert report["model"]["translation"]["max_abs_diff"] <= 1e-4, name
        assert report["sizes"]["steps"][0]["keras_h5"]["bytes"] > 0, name
        assert "model.keras" in report["artifacts"], name
    translated = {name: json.loads((out / "report.json").read_text())["model"]["translation"]
                  for name, (_, out) in results.items()}
    assert translated["MobileNetV3Small"]["operations"] > 0  # hard-swish written with ops
    assert len(translated["InceptionResNetV2"]["registered_translations"]) == 40
    assert len(translated["ConvNeXtTiny"]["registered_translations"]) == 18  # LayerScale


def test_mobilenet_v3_small_prunes_structurally(saved, tiny_npz):
    done, out = build(saved, "MobileNetV3Small", tiny_npz, STRUCTURAL)
    assert done.returncode == 0, done.stderr[-2000:]
    structural = json.loads((out / "report.json").read_text())["structural"][0]
    assert structural["params_after"] < 0.5 * structural["params_before"]
    assert any(len(group) > 1 for group in structural["groups"])  # residual and SE couplings
