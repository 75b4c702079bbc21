"""Quantization-aware training in the keras3 engine: a Keras 3 model (a subclassed one too)
fakes int8 in its own layer calls; zeros and clusters kept into an all-int8 file, batch norms
folded, the user's class handed back, exact resume (refused layers: `test_qat`)."""

from __future__ import annotations

import shutil

import keras
import numpy as np
import pytest

from prune2edge import Cluster, Convert, FineTune, Pipeline, Prune, Qat, Strip, Train
from prune2edge.errors import ModelError
from prune2edge.keras3.fake_quant import applied, fake_quantize
from prune2edge.keras3.keeping import Kept
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages.cluster import kept_in_file
from prune2edge.tflite.model import TFLiteModel
from test_checkpoints import StopAfter
from test_clustering import resumes_exactly
from test_keras3_engine import TESTS
from test_qat import weights_by_layer

PRUNED = [Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=1)),
          FineTune(epochs=1), Strip()]


def int8_file(out):
    return TFLiteModel.read((out / "model.tflite").read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("factory", ["functional", "subclassed"])
def test_a_keras3_model_trains_quantization_aware_as_it_is(tmp_path, tiny_npz, factory):
    """PCQAT without tfmot or translation: the file is all int8 from the trained ranges, every
    kernel's zeros are those before QAT and in the file, at most the clusters' values in it;
    the model handed back is the user's (a subclassed model's class)."""
    stages = [*PRUNED, Cluster(number_of_clusters=6), FineTune(epochs=1), Strip(),
              Qat(epochs=1, io_type="int8"), Convert(sparse="off")]
    out = tmp_path / "out"
    report = Pipeline(stages).run(f"keras3_models:{factory}", str(tiny_npz), out=out)
    assert report.model["engine"] == "keras3" and "translation" not in report.model
    qat = report.extra["qat"]
    assert qat["scheme"] == "PCQAT"
    in_file = weights_by_layer(report)
    for layer in qat["layers"]:
        assert layer["zeros_after"] == layer["zeros_before"] == in_file[layer["layer"]]["zeros"]
        assert layer["distinct_after"] == layer["distinct_before"] <= 6
    assert sum(layer["zeros_before"] for layer in qat["layers"]) > 0
    assert all(row["kept"] for row in kept_in_file(report))
    assert int8_file(out).float_ops() == []
    handed_back = keras.saving.load_model(out / "model.keras")
    assert type(handed_back).__name__ == ("Digits" if factory == "subclassed" else "Functional")
    assert not applied(handed_back)


def test_batch_norms_fold_and_a_softmax_head_stays_int8(tmp_path, tiny_npz):
    """A convolution's (and a depthwise one's) output read by a batch norm is not faked, so
    the converter folds the norm into it (a scale per channel); a softmax inside a Dense
    gets its input's range faked too."""
    report = Pipeline([Train(epochs=1), Qat(epochs=1), Convert(sparse="off")]).run(
        "keras3_models:conv_bn", str(tiny_npz), out=tmp_path / "out")
    model = int8_file(tmp_path / "out")
    assert model.float_ops() == [] and report.extra["qat"]["left_float"] == []
    assert not {"MUL", "ADD"} & set(model.ops())  # the norms folded


def test_a_norm_that_cannot_fold_is_refused_or_left_float(tmp_path, tiny_npz):
    """A batch norm after a ReLU has nothing to fold into and int8 has no rule for it alone
    (tfmot refuses it too): one line, or with allow_float the norm alone in float."""
    with pytest.raises(ModelError, match="'batch_normalization' cannot train quantization-aware:"
                       " the keras3 engine folds a batch norm into the convolution or Dense "
                       "before it, and this one follows another op"):
        Pipeline([Qat(epochs=1), Convert()]).run("keras3_models:relu_then_norm",
                                                 str(tiny_npz), out=tmp_path / "refused")
    report = Pipeline([Qat(epochs=1, allow_float=True), Convert(sparse="off")]).run(
        "keras3_models:relu_then_norm", str(tiny_npz), out=tmp_path / "out")
    assert [f["layer"] for f in report.extra["qat"]["left_float"]] == ["batch_normalization"]
    assert {op for op, _ in int8_file(tmp_path / "out").float_ops()} == {"MUL", "ADD"}


def test_kept_ties_shared_values_and_zeros_after_a_step():
    """After an optimizer step moves every weight, weights that shared a value share the mean
    of theirs again and zeros are zero (CQAT and PQAT's guarantee, kept between batches)."""
    variable = keras.Variable(np.array([[0.0, 0.5, 0.5], [-0.25, 0.0, -0.25]], "float32"))
    kept = Kept([variable], zeros=True, clusters=True)
    variable.assign(variable.numpy() + np.array([[0.1, 0.1, 0.3], [0.2, 0.05, 0.0]], "f"))
    kept.apply()
    np.testing.assert_allclose(variable.numpy(), [[0, 0.7, 0.7], [-0.15, 0, -0.15]], atol=1e-6)


def test_ranges_follow_training_batches_only():
    """An activation's range moves with training batches (tfmot's moving average, from
    [-6, 6]) and stays put when the model only predicts."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    fake_quantize(model, set())
    x = np.full((8, 4), 0.5, "float32")
    before = model(x, training=False).numpy()
    np.testing.assert_array_equal(model(x, training=False).numpy(), before)
    model(x, training=True)
    assert not np.array_equal(model(x, training=False).numpy(), before)


@pytest.mark.slow
def test_a_keras3_build_interrupted_in_qat_resumes_to_the_same_bytes(tmp_path, tiny_npz):
    """A model faking int8 is not checkpointed (its calls are not saved): the resumed build
    runs the stage again from its start, to the same bytes."""
    shutil.copy(TESTS / "keras3_models.py", tmp_path / "keras3_models.py")
    recipe = f"""
version = 1
name = "qat"
[model]
source = "keras3_models.py:subclassed"
[data]
source = "{tiny_npz}"

[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "qat"
epochs = 2

[[stages]]
kind = "convert"
sparse = "off"
"""
    resumes_exactly(tmp_path, recipe, StopAfter("qat", 1))
