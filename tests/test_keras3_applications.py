"""Every keras.applications family, its smallest member built by Keras 3 itself (random
weights, small inputs) and saved as .keras, goes through `prune2edge build` in both engines:
in the keras3 engine as it is, through structural pruning at ratio 0.5, int8 and conversion
(builtin ops only, Keras-vs-.tflite agreement measured); and translated to tf_keras, verified
against Keras 3 to 1e-4 (outputs and tensors inside), measured and handed back.
(scripts/bench_keras3_applications.py measures both engines side by side.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import made_once
from prune2edge import build
from prune2edge.tflite.model import TFLiteModel

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
engine = "{engine}"
[data]
source = "{data}"
{stages}
"""
MAX_INT8_DIFF = 0.02  # softmax outputs, Keras against the int8 .tflite
MEASURE = '[[stages]]\nkind = "measure"\n'
SHRINK = """
[[stages]]
kind = "structural"
ratio = 0.5
[[stages]]
kind = "quantize"
mode = "int8"
[[stages]]
kind = "convert"
sparse = "off"
[[stages]]
kind = "validate"
runs = 10
min_agreement = 0.0  # random weights: near-uniform outputs, whose argmax int8 rounding flips
"""


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


def build_family(saved, name, data, work, stages, engine):
    """`prune2edge build` of the family's saved file (in this process: the build imports
    Keras 3 beside tf_keras as the command does)."""
    recipe = work / f"{name}.toml"
    recipe.write_text(RECIPE.format(name=name, source=saved / f"{name}.keras", data=data,
                                    stages=stages, engine=engine))
    build(recipe, work / "out")
    return json.loads((work / "out" / "report.json").read_text())


# what each family's translation must show beyond the rest
SPECIFIC = {"MobileNetV3Small": lambda t: t["operations"] > 0,  # hard-swish written with ops
            "InceptionResNetV2": lambda t: len(t["registered_translations"]) == 40,
            "ConvNeXtTiny": lambda t: len(t["registered_translations"]) == 18}  # LayerScale


# families with parts of their own (operations and depthwise stacks, ConvNeXt's nested
# Sequential models and LayerScale, Rescaling and Normalization); `make test-all` builds the
# others too (NASNetMobile's separable cells, InceptionResNetV2's 40 scale layers)
OWN_PARTS = {"MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny"}


def family_params():
    return [pytest.param(name, marks=() if name in OWN_PARTS else pytest.mark.exhaustive)
            for name in FAMILIES]


def saved_family(saved, tmp_path, name):
    """The family's file: saved once for `make test`'s families, else saved here."""
    if name in OWN_PARTS:
        return saved
    own = tmp_path / "saved"
    own.mkdir()
    write_families(own, [name])
    return own


@pytest.mark.parametrize("name", family_params())
def test_every_family_shrinks_in_the_keras3_engine(saved, tiny_npz, tmp_path, name):
    """Structural pruning of the Keras 3 model as it is (`auto` picks the keras3 engine), int8
    and conversion: at most 40 % of the MACs kept, builtin ops only, the model handed back."""
    report = build_family(saved_family(saved, tmp_path, name), name, tiny_npz, tmp_path,
                          SHRINK, "auto")
    assert report["model"]["engine"] == "keras3" and "translation" not in report["model"]
    structural = report["structural"][0]
    assert structural["macs_after"] <= 0.4 * structural["macs_before"]
    assert report["agreement"]["max_abs_diff"] <= MAX_INT8_DIFF
    ops = set(TFLiteModel.of_file(tmp_path / "out" / "model.tflite").ops())
    assert "CONV_2D" in ops and not any("CUSTOM" in op or "FLEX" in op for op in ops), ops
    assert "model.keras" in report["artifacts"]


@pytest.mark.parametrize("name", family_params())
def test_every_family_translates_for_the_tf_keras_engine(saved, tiny_npz, tmp_path, name):
    report = build_family(saved_family(saved, tmp_path, name), name, tiny_npz, tmp_path,
                          MEASURE, "tf_keras")
    assert report["model"]["kind"] == "keras3"
    translation = report["model"]["translation"]
    assert translation["max_abs_diff"] <= 1e-4
    assert report["sizes"]["steps"][0]["keras_h5"]["bytes"] > 0
    assert "model.keras" in report["artifacts"]
    assert SPECIFIC.get(name, lambda t: True)(translation)
