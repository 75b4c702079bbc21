"""Quantization-aware training: the scheme that keeps an earlier prune's zeros and
clustering's values, verified in the int8 .tflite; layers tfmot cannot fake-quantize; the
order of stages; the float model handed back; exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prune2edge import Cluster, Convert, FineTune, Pipeline, Prune, Qat, Strip, Train
from prune2edge.errors import ModelError, RecipeError
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages.cluster import kept_in_file
from prune2edge.tflite.model import TFLiteModel
from test_checkpoints import StopAfter
from test_clustering import StopBefore, resumes_exactly

PRUNED = [Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=1)),
          FineTune(epochs=1), Strip()]
CLUSTERED = [Cluster(number_of_clusters=8), FineTune(epochs=1), Strip()]  # zero: a centroid


def weights_by_layer(report):
    return {w["layer"]: w for w in report.conversion["weights"]}


@pytest.mark.parametrize(("stages", "scheme"), [
    (PRUNED, "PQAT"), ([Cluster(number_of_clusters=8, preserve_sparsity=False), *CLUSTERED[1:]],
                       "CQAT"), (PRUNED + CLUSTERED, "PCQAT")])
def test_qat_keeps_zeros_and_clusters_in_the_int8_file(tmp_path, tiny_npz, stages, scheme):
    """The depthwise convolution is neither pruned nor clustered by tfmot: its values move."""
    report = Pipeline([*stages, Qat(epochs=1), Convert(sparse="off")]).run(
        "tiny_models:mobile", str(tiny_npz), out=tmp_path / "out")
    qat = report.extra["qat"]
    assert qat["scheme"] == scheme
    in_file = weights_by_layer(report)
    for layer in qat["layers"]:
        zeros = in_file[layer["layer"]]["zeros"]
        if layer["layer"] == "depthwise_conv2d":  # int8 may round a small weight to zero
            assert zeros >= layer["zeros_before"]
            continue
        assert layer["zeros_after"] == layer["zeros_before"] == zeros
        if "C" in scheme:
            assert layer["distinct_before"] == layer["distinct_after"] <= 8
    if "C" in scheme:
        assert all(row["kept"] for row in kept_in_file(report))
    assert report.conversion["quantization"] == {
        "mode": "int8", "io_type": "float32", "ranges": "quantization-aware training"}
    if "P" in scheme:
        assert all(layer["zeros_before"] > 0 for layer in qat["layers"]
                   if layer["layer"] != "depthwise_conv2d")


def test_qat_writes_an_all_int8_file_from_the_trained_ranges(tmp_path, tiny_npz):
    report = Pipeline([Train(epochs=3), Qat(epochs=1, io_type="int8"), Convert(sparse="off")]).run(
        "tiny_models:mlp", str(tiny_npz), out=tmp_path / "out")
    assert report.extra["qat"]["scheme"] == "QAT"
    model = TFLiteModel.read((tmp_path / "out" / "model.tflite").read_bytes())
    assert model.float_ops() == []
    assert report.extra["qat"]["test_accuracy"] > 0.5  # learning, not chance
    handed_back = tmp_path / "out" / "model.keras"  # the float model, plain layers
    names = json.loads(__import__("zipfile").ZipFile(handed_back).read("config.json"))
    assert "Quantize" not in json.dumps(names)


@pytest.mark.parametrize(("source", "reason"), [
    ("tiny_models:normed_mlp", "tfmot's 8-bit scheme has no quantization for LayerNormalization"),
    ("keras3_models:layer_norm", "the keras3 engine has no fake quantization for "
                                 "LayerNormalization")], ids=["tf_keras", "keras3"])
def test_a_layer_the_engine_cannot_fake_quantize_is_one_line_or_left_float(tmp_path, tiny_npz,
                                                                           source, reason):
    with pytest.raises(ModelError) as info:
        Pipeline([Qat(epochs=1), Convert()]).run(source, str(tiny_npz), out=tmp_path / "refused")
    assert info.value.what == ("layer 'layer_normalization' cannot train quantization-aware: "
                               + reason)
    assert info.value.fix.startswith("set allow_float = true")
    assert not (tmp_path / "refused").exists()
    report = Pipeline([Qat(epochs=1, allow_float=True), Convert(sparse="off")]).run(
        source, str(tiny_npz), out=tmp_path / "out")
    assert report.extra["qat"]["left_float"] == [{"layer": "layer_normalization",
                                                  "reason": reason}]


def test_a_batch_norm_after_a_convolution_is_folded_not_refused(tmp_path, tiny_npz):
    """tfmot's scheme refuses a lone BatchNormalization but folds one after a convolution:
    what it can do is decided by tfmot itself, not by a list of layer types."""
    report = Pipeline([Qat(epochs=1), Convert(sparse="off")]).run(
        "tiny_models:conv_bn", str(tiny_npz), out=tmp_path / "out")
    assert report.extra["qat"]["left_float"] == []
    assert TFLiteModel.read((tmp_path / "out" / "model.tflite").read_bytes()).float_ops() == []


@pytest.mark.parametrize(("stages", "message"), [
    ([Qat(), FineTune()], "finetune cannot change a model in quantization-aware training"),
    ([Qat(), Qat()], "qat"),
    ([Prune(), FineTune(), Qat()], "the model still has pruning or clustering wrappers"),
])
def test_stages_that_cannot_follow_or_precede_qat_are_recipe_errors(stages, message):
    with pytest.raises(RecipeError, match=message):
        Pipeline([*stages, Convert()])


RECIPE = """
version = 1
name = "qat"
[model]
source = "tiny_models:mobile"
[data]
source = "{data}"

[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "qat"
epochs = 3

[[stages]]
kind = "convert"
sparse = "off"
"""


@pytest.mark.slow
@pytest.mark.parametrize("stop", [StopAfter("qat", 2), StopBefore("convert")],
                         ids=["in qat", "after it"])
def test_a_build_interrupted_in_qat_resumes_to_the_same_bytes(tmp_path, tiny_npz, stop):
    resumes_exactly(tmp_path, RECIPE.format(data=tiny_npz), stop)


@pytest.mark.parametrize("stage", [Qat(), Cluster()], ids=["qat", "cluster"])
def test_under_distribute_they_are_refused_before_any_work(make_ctx, stage):
    """Moving a model into a strategy goes through a file, which tfmot's clustering and
    quantization-aware wrappers do not read back."""
    ctx = make_ctx("mlp").set_up(strategy=object())
    with pytest.raises(RecipeError, match=f"{stage.kind} cannot train under \\[distribute\\]"):
        stage.preflight(ctx)


def scales_per_weight(path) -> list[int]:
    """How many int8 scales each Conv2D and Dense kernel of a .tflite has (a depthwise
    kernel, [1, h, w, channels], left out: tfmot's schemes keep those per channel)."""
    model = TFLiteModel.read(path.read_bytes())
    return [len(t.quantization.scale) for t in model.graph.tensors
            if model.type_name(t) == "INT8" and len(model.data(t)) and len(t.shape) > 1
            and not (len(t.shape) == 4 and t.shape[0] == 1)]


@pytest.mark.parametrize("source", ["tiny_models:mobile", "keras3_models:functional"],
                         ids=["tf_keras", "keras3"])
def test_per_channel_false_gives_every_kernel_one_scale(tmp_path, tiny_npz, source):
    """Convolutions are faked (and written) per tensor, with zeros and clusters kept: one
    float scale each in the file instead of one per channel, so that clustered values are
    the same bytes in every channel (tfmot's collaborative schemes take it through their
    registries)."""
    stages = [*PRUNED, *CLUSTERED, Qat(epochs=1, per_channel=False), Convert(sparse="off")]
    report = Pipeline(stages).run(source, str(tiny_npz), out=tmp_path / "out")
    assert report.extra["qat"]["scheme"] == "PCQAT"
    assert report.conversion["quantization"]["per_channel"] is False
    for layer in report.extra["qat"]["layers"]:  # one set of values per kernel, kept so
        if layer["layer"] != "depthwise_conv2d":  # tfmot clusters no depthwise kernel
            assert layer["distinct_after"] == layer["distinct_before"] <= 8, layer
    assert set(scales_per_weight(tmp_path / "out" / "model.tflite")) == {1}
    assert all(row["kept"] for row in kept_in_file(report))
    whole = Pipeline([*stages[:-2], Qat(epochs=1), Convert(sparse="off")]).run(
        source, str(tiny_npz), out=tmp_path / "per-channel")
    assert max(scales_per_weight(tmp_path / "per-channel" / "model.tflite")) > 1
    assert whole.extra["qat"]["scheme"] == "PCQAT"


@pytest.mark.parametrize("per_channel", [True, False])
def test_per_tensor_qat_keeps_one_set_of_values_per_convolution(per_channel):
    """tfmot's cluster-preserving QAT takes a convolution's values apart channel by channel
    when every channel holds as many, and they move apart as it trains; per tensor, the
    kernel keeps one set (its bytes then repeat across channels in the file)."""
    from prune2edge import _compat
    from prune2edge.keras import qat

    keras, rng = _compat.keras(), np.random.default_rng(0)
    model = keras.Sequential([keras.layers.Input((12, 12, 1)), keras.layers.Conv2D(8, 3),
                              keras.layers.Conv2D(16, 3), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    values = np.linspace(-0.3, 0.4, 8).round(2).astype("float32")  # zero among them
    for layer in model.layers[:2]:
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.choice(values, kernel.shape), bias])
    wrapped, _ = qat.quantize(model, True, True, False, per_channel)
    wrapped.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    wrapped.fit(rng.random((64, 12, 12, 1)), rng.integers(0, 10, 64), epochs=2, verbose=0)
    kernel = qat.kernels(qat.float_twin(wrapped, model, True))[model.layers[1].name]
    per_channel_values = max(len(np.unique(kernel[..., c])) for c in range(16))
    assert per_channel_values <= 8
    assert (len(np.unique(kernel)) > 8) == per_channel
