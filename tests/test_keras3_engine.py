"""The keras3 engine: a Keras 3 model pruned, fine-tuned, stripped, converted and handed back
as it is (a subclassed one included), without tfmot or translation."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from prune2edge import Convert, Pipeline, Quantize, Train, build
from prune2edge.errors import Interrupted, ModelError
from prune2edge.keras.converter import to_tflite
from prune2edge.keras.load import ModelSpec, load
from prune2edge.tflite.model import TFLiteModel
from prune2edge.tflite.runner import TFLiteRunner
from test_checkpoints import StopAfter

TESTS = Path(__file__).parent
STAGES = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "prune"
{prune}

[[stages]]
kind = "finetune"
epochs = 2
{finetune}

[[stages]]
kind = "strip"
{quantize}
[[stages]]
kind = "convert"
sparse = "off"

[[stages]]
kind = "validate"
runs = 20
"""


MAGNITUDE = 'schedule = { kind = "polynomial_decay", final_sparsity = 0.6, frequency = 4 }'
OBS = 'criterion = "obs"\nschedule = { kind = "constant_sparsity", target_sparsity = 0.5 }'


def write(root: Path, npz: Path, model: str, quantize: str = "", engine: str = "auto",
          prune: str = MAGNITUDE, finetune: str = "") -> Path:
    shutil.copy(npz, root / "tiny.npz")
    shutil.copy(TESTS / "keras3_models.py", root / "keras3_models.py")
    recipe = root / "recipe.toml"
    recipe.write_text(textwrap.dedent(f"""\
        version = 1
        name = "keras3-engine"
        seed = 0
        [model]
        source = "keras3_models.py:{model}"
        engine = "{engine}"
        [data]
        source = "tiny.npz"
        """) + STAGES.format(quantize=quantize, prune=prune,
                                                            finetune=finetune))
    return recipe


@pytest.mark.slow
def test_a_subclassed_model_builds_pruned_and_int8(tmp_path, tiny_npz):
    """Refused before this engine: magnitude pruning to 60 %, int8 with a layer kept float
    (TensorFlow's name scopes of Keras 3 layers, "dense_1_2" for "dense_1", map back to the
    layers), builtin ops only."""
    recipe = write(tmp_path, tiny_npz, "subclassed", '\n[[stages]]\nkind = "quantize"\n'
                                                     'mode = "int8"\nfloat_layers = ["dense_1"]\n')
    report = build(recipe, tmp_path / "out")
    assert report.model["engine"] == "keras3" and report.model["kind"] == "factory"
    assert report.pruning[0]["pruned_layers"] == ["conv2d", "dense", "dense_1"]
    stripped = next(s for s in report.stages if s["kind"] == "strip")["outputs"]
    assert stripped["sparsity"] == pytest.approx(0.6, abs=0.01)
    ops = set(TFLiteModel.of_file(tmp_path / "out" / "model.tflite").ops())
    assert ops <= {"QUANTIZE", "DEQUANTIZE", "RESHAPE", "CONV_2D", "FULLY_CONNECTED",
                   "SOFTMAX", "EXPAND_DIMS"}, ops  # builtin ops: no Flex, no custom op
    int8 = report.conversion["int8"]
    assert int8["float_layers"] == ["dense_1 (FULLY_CONNECTED)"]  # the head
    assert {name for e in int8["layer_errors"] for name in e["layers"]} >= {"conv2d", "flatten"}
    validated = next(s for s in report.stages if s["kind"] == "validate")["outputs"]
    assert validated["agreement"]["top1"] >= 0.9


@pytest.mark.slow
def test_the_model_handed_back_loads_without_prune2edge_and_matches_the_tflite(tmp_path,
                                                                            tiny_npz):
    """model.keras is plain Keras 3: a process that imports only keras and the user's module
    loads it, and it computes what the float32 .tflite computes. Pruned by Optimal Brain
    Damage: its zeros set at once, then held by the masks."""
    recipe = write(tmp_path, tiny_npz, "subclassed", prune='criterion = "obd"\nschedule = '
                   '{ kind = "constant_sparsity", target_sparsity = 0.6 }')
    report = build(recipe, tmp_path / "out")
    assert report.pruning[0]["test_accuracy_before_finetune"] > 0.3
    assert report.sparsity["overall"] == pytest.approx(0.6, abs=0.01)
    x = np.load(tmp_path / "tiny.npz")["x_test"][:100].astype(np.float32) / 255.0
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import keras, numpy as np
        import keras3_models  # the user's module registers its model class
        model = keras.saving.load_model({str(tmp_path / "out" / "model.keras")!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "keras.npy")!r}, model.predict(x, verbose=0))
        assert "prune2edge" not in sys.modules
        """)
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    keras_out = np.load(tmp_path / "keras.npy")
    tflite_out = TFLiteRunner(tmp_path / "out" / "model.tflite").predict(x)
    assert np.max(np.abs(keras_out - tflite_out)) <= 1e-5
    with zipfile.ZipFile(tmp_path / "out" / "model.keras") as archive:
        assert not json.loads(archive.read("config.json")).get("compile_config")  # uncompiled


@pytest.mark.slow
def test_an_interrupted_fine_tune_resumes_to_the_same_bytes(tmp_path, tiny_npz):
    """Ctrl-C after the first fine-tune epoch of a subclassed model with dropout: the
    checkpoint keeps the model (read back with the user's class) and its masks, dropout is
    reseeded per epoch, and --resume makes the bytes of the uninterrupted build."""
    recipe = write(tmp_path, tiny_npz, "subclassed")
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    build(recipe, whole)
    with pytest.raises(Interrupted):
        build(recipe, stopped, reporter=StopAfter("finetune", 1))
    report = build(recipe, stopped, resume=True)
    assert report.resumed == {"stage": 3, "epochs_done": 1, "stages_skipped": ["train", "prune"]}
    for name in ("model.tflite", "model.keras"):
        digests = {hashlib.sha256((out / name).read_bytes()).hexdigest()
                   for out in (whole, stopped)}
        assert len(digests) == 1, name
    stripped = json.loads((stopped / "report.json").read_text())["sparsity"]
    assert stripped["overall"] == pytest.approx(0.6, abs=0.01)


@pytest.mark.slow
def test_obs_and_distillation_build_a_subclassed_model_and_resume_exactly(tmp_path, tiny_npz):
    """Optimal Brain Surgeon reaches a subclassed model's layers (their inputs watched as the
    model runs) and leaves less output error than magnitude pruning; the fine-tune distils
    from the dense model, and a resumed build reads its loss back to the same bytes."""
    recipe = write(tmp_path, tiny_npz, "subclassed", prune=OBS, finetune='teacher = "baseline"')
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    report = build(recipe, whole)
    rows = report.pruning[0]["reconstruction"]
    assert [r["layer"] for r in rows] == ["conv2d", "dense", "dense_1"]
    assert all(r["output_error"] < r["magnitude_output_error"] for r in rows)
    assert report.sparsity["overall"] == pytest.approx(0.5, abs=0.01)
    finetuned = next(s for s in report.stages if s["kind"] == "finetune")["outputs"]
    assert finetuned["loss_fn"].startswith("distillation(")
    with pytest.raises(Interrupted):
        build(recipe, stopped, reporter=StopAfter("finetune", 1))
    build(recipe, stopped, resume=True)
    for name in ("model.tflite", "model.keras"):
        assert (whole / name).read_bytes() == (stopped / name).read_bytes(), name


@pytest.mark.slow
@pytest.mark.parametrize("mode,sparse,runtime", [("float16", "auto", "litert"),
                                                 ("dynamic", "on", "litert"),
                                                 ("int8", "auto", "both")])
def test_every_conversion_works_from_a_subclassed_model(tmp_path, tiny_npz, mode, sparse,
                                                        runtime):
    """float16, dynamic range and int8 (int8 in and out, run on TensorFlow Lite Micro too),
    with the sparse encoding, from a model without a layer graph."""
    io = '\nio_type = "int8"' if mode == "int8" else ""
    recipe = write(tmp_path, tiny_npz, "subclassed",
                   f'\n[[stages]]\nkind = "quantize"\nmode = "{mode}"{io}\n')
    recipe.write_text(recipe.read_text().replace('sparse = "off"', f'sparse = "{sparse}"')
                      .replace("runs = 20", f'runs = 20\nruntime = "{runtime}"'))
    report = build(recipe, tmp_path / "out")
    assert report.conversion["quantization"]["mode"] == mode
    assert report.conversion["encoding"] == ("sparse" if sparse == "on" else "dense")
    assert report.agreement["top1"] >= 0.95
    if runtime == "both":
        assert report.micro["arena"]["total"] > 0 and report.micro["test_samples"] > 0


@pytest.mark.parametrize("model,left", [("layer_norm", {"NEG": 1}), ("functional", None)])
def test_ops_the_converter_leaves_in_float_are_counted(tmp_path, tiny_npz, model, left):
    """Keras 3's LayerNormalization negates its mean, and TensorFlow Lite's quantizer has no
    int8 NEG: an int8 file keeps that op in float, and the report says so."""
    report = Pipeline([Quantize(mode="int8", samples=20), Convert(sparse="off")]).run(
        f"keras3_models:{model}", str(tiny_npz), out=tmp_path / "out")
    assert report.conversion["int8"].get("converter_float_ops") == left
    said = "Left in float by the converter" in (tmp_path / "out" / "report.md").read_text()
    assert said == (left is not None)


@pytest.mark.parametrize("op", ["erfinv", "cumprod"])
def test_an_op_without_a_builtin_is_refused_naming_its_operation(op):
    """No Flex op is ever written: an operation TensorFlow Lite has no builtin for is one
    line naming it, found by its name scope (erfinv) or its name (cumprod has no scope)."""
    keras = pytest.importorskip("keras")
    inputs = keras.Input((8,))
    x = getattr(keras.ops, op)(keras.layers.Dense(8)(inputs), **({"axis": -1} if op ==
                                                                  "cumprod" else {}))
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    with pytest.raises(ModelError) as info:
        to_tflite(model, None, sparse=False)
    kind = {"erfinv": "Erfinv", "cumprod": "Cumprod"}[op]
    assert info.value.what == f"TensorFlow Lite has no builtin op for tf.{kind} (in {op!r})"
    assert info.value.fix.startswith("prune2edge converts to builtin ops only")


def test_engine_keras3_refuses_a_tf_keras_model(tmp_path):
    with pytest.raises(ModelError) as info:
        load("tiny_models:mlp", TESTS, engine="keras3")
    assert info.value.what == "engine keras3 runs Keras 3 models, and this is a tf_keras model"


class TfKerasOnly(Train):
    """A user's stage that works on tfmot's wrappers: it says it runs in tf_keras only."""

    kind: ClassVar[str] = "tf_keras_only"
    engines: ClassVar[frozenset[str]] = frozenset({"tf_keras"})


def test_a_stage_the_engine_cannot_run_is_one_line_before_any_work(tmp_path, tiny_npz):
    with pytest.raises(ModelError) as info:
        Pipeline([TfKerasOnly(epochs=1)]).run("keras3_models:subclassed", str(tiny_npz),
                                              out=tmp_path / "out")
    assert info.value.what == ("the keras3 engine cannot run this yet: tf_keras_only runs in "
                               "the tf_keras engine only")
    assert info.value.where == "stage 1 (tf_keras_only)"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_structural_pruning_refuses_a_subclassed_model_in_one_line(tmp_path, tiny_npz):
    recipe = write(tmp_path, tiny_npz, "subclassed")
    recipe.write_text(recipe.read_text().replace('kind = "prune"\n', 'kind = "structural"\n')
                      .replace(MAGNITUDE, "ratio = 0.5")
                      .replace('[[stages]]\nkind = "strip"\n', ""))
    with pytest.raises(ModelError) as info:
        build(recipe, tmp_path / "out")
    assert info.value.what == ("structural pruning needs a layer graph, and a subclassed "
                               "model's call() is Python code")
    assert info.value.where == "stage 2 (structural): digits"
    assert not (tmp_path / "out").exists()


def test_auto_translates_a_graph_for_what_only_the_tf_keras_engine_runs(tmp_path, tiny_npz):
    """A Keras 3 graph builds as it is; when a stage runs in the tf_keras engine only, `auto`
    translates it for that engine instead of refusing (engine = "keras3" refuses)."""
    report = Pipeline([TfKerasOnly(epochs=1)]).run("keras3_models:functional", str(tiny_npz),
                                                   out=tmp_path / "out")
    assert "engine" not in report.model and report.model["translation"]["max_abs_diff"] <= 1e-4
    with pytest.raises(ModelError) as info:
        Pipeline([TfKerasOnly(epochs=1)]).run(
            ModelSpec(source="keras3_models:functional", engine="keras3"), str(tiny_npz),
            out=tmp_path / "refused")
    assert info.value.what.startswith("the keras3 engine cannot run this yet: tf_keras_only")
