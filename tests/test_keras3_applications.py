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

import pytest

from conftest import made_once
from prune2edge import build

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
source = "{source}"
[data]
source = "{data}"
{stages}
"""
MEASURE = '[[stages]]\nkind = "measure"\n'
# (converting it took most of its build: tests/test_applications.py converts MobileNetV3)
STRUCTURAL = '[[stages]]\nkind = "structural"\nratio = 0.5\n'


def write_families(root, names):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    args = [str(part) for name in names for part in (name, FAMILIES[name])]
    out = subprocess.run([sys.executable, "-c", WRITE, str(root), *args], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The families `make test` builds, saved by Keras 3 once (one process for all)."""
    return made_once(tmp_path_factory, "keras3-applications",
                     lambda root: write_families(root, sorted(OWN_PARTS)))


def build_family(saved, name, data, work, stages=MEASURE):
    """`prune2edge build` of the family's saved file (in this process: the build imports
    Keras 3 beside tf_keras as the command does)."""
    recipe = work / f"{name}.toml"
    recipe.write_text(RECIPE.format(name=name, source=saved / f"{name}.keras", data=data,
                                    stages=stages))
    build(recipe, work / "out")
    return json.loads((work / "out" / "report.json").read_text())


# what each family's translation must show beyond the rest
SPECIFIC = {"MobileNetV3Small": lambda t: t["operations"] > 0,  # hard-swish written with ops
            "InceptionResNetV2": lambda t: len(t["registered_translations"]) == 40,
            "ConvNeXtTiny": lambda t: len(t["registered_translations"]) == 18}  # LayerScale


# families whose translation has parts of its own (operations and depthwise stacks,
# registered layers, Rescaling and Normalization); `make test-all` builds the others too
# (NASNetMobile's separable cells, InceptionResNetV2's 40 registered scale layers)
OWN_PARTS = {"MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny"}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=() if name in OWN_PARTS else pytest.mark.exhaustive)
    for name in FAMILIES])
def test_every_family_builds_from_its_keras3_file(saved, tiny_npz, tmp_path, name):
    """MobileNetV3Small, the Keras 3 era's own MobileNet, is also pruned structurally in the
    same build (one translation)."""
    if name not in OWN_PARTS:
        saved = tmp_path / "saved"
        saved.mkdir()
        write_families(saved, [name])
    stages = MEASURE + (STRUCTURAL if name == "MobileNetV3Small" else "")
    report = build_family(saved, name, tiny_npz, tmp_path, stages)
    assert report["model"]["kind"] == "keras3"
    translation = report["model"]["translation"]
    assert translation["max_abs_diff"] <= 1e-4
    assert report["sizes"]["steps"][0]["keras_h5"]["bytes"] > 0
    assert "model.keras" in report["artifacts"]
    assert SPECIFIC.get(name, lambda t: True)(translation)
    if name == "MobileNetV3Small":
        structural = report["structural"][0]
        assert structural["params_after"] < 0.5 * structural["params_before"]
        assert any(len(group) > 1 for group in structural["groups"])  # residual, SE couplings
