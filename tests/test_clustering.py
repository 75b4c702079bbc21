"""Weight clustering: which layers tfmot clusters (and why not the rest), at most
`number_of_clusters` distinct values per tensor (per channel) once stripped and in the .tflite,
zeros kept, exact resume, and the recipe errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import run_stages as run
from prune2edge import Cluster, Convert, FineTune, Pipeline, Prune, Quantize, Strip, build
from prune2edge.errors import Interrupted, ModelError, RecipeError
from prune2edge.keras.clustering import has_clustering_wrappers
from prune2edge.progress import Reporter
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages.cluster import kept_in_file
from test_checkpoints import StopAfter


def kernels(model):
    return {layer.name: layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")}


def test_cluster_wraps_what_tfmot_clusters_and_says_why_not_the_rest(make_ctx):
    ctx = make_ctx("mobile")
    out = run(ctx, Cluster(number_of_clusters=16, per_channel=True))
    assert has_clustering_wrappers(out.model) and not has_clustering_wrappers(ctx.model)
    assert out.result.clustered_layers == ["dense"]
    assert out.result.skipped_layers == [
        {"layer": "conv2d", "type": "Conv2D",
         "reason": "a channel of its kernel has 9 weights, not more than 16 clusters"},
        {"layer": "depthwise_conv2d", "type": "DepthwiseConv2D",
         "reason": "tfmot clusters no weights of DepthwiseConv2D layers"},
        {"layer": "conv2d_1", "type": "Conv2D",
         "reason": "a channel of its kernel has 8 weights, not more than 16 clusters"}]


def test_a_channel_short_of_non_zero_weights_is_left_alone(make_ctx):
    """tfmot's initialisations need a non-zero weight per non-zero centroid; an all-zero
    channel would even give channels centroid lists of different lengths."""
    ctx = make_ctx("cnn")
    kernel = ctx.model.get_layer("conv2d").kernel
    values = kernel.numpy()
    values[..., 0] = 0
    kernel.assign(values)
    out = run(ctx, Cluster(number_of_clusters=4, per_channel=True))
    assert out.result.skipped_layers[0] == {
        "layer": "conv2d", "type": "Conv2D",
        "reason": "a channel of its kernel has 0 non-zero weights, fewer than the 3 non-zero "
                  "clusters"}


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_strip_leaves_at_most_the_clusters_and_keeps_the_zeros(make_ctx, per_channel):
    ctx = make_ctx("cnn")
    pruned = run(ctx, Prune(schedule=ConstantSparsity(target_sparsity=0.3, frequency=1)),
                 FineTune(epochs=1), Strip())
    out = run(pruned, Cluster(number_of_clusters=3, per_channel=per_channel),
              FineTune(epochs=1), Strip())
    before, after = kernels(pruned.model), kernels(out.model)
    for name, kernel in after.items():
        assert np.all(kernel[before[name] == 0] == 0), name  # every zero stays a zero
    for found in out.result.clusters:
        kernel = after[found["layer"]]
        channels = list(np.moveaxis(kernel, -1, 0)) if found["per_channel"] else [kernel]
        assert max(len(np.unique(c)) for c in channels) == found["distinct"] <= 3
    clustered = [(c["layer"], c["per_channel"]) for c in out.result.clusters]
    assert clustered == [("conv2d", per_channel), ("dense", False), ("dense_1", False)]


def test_clusters_hold_in_the_int8_tflite(tmp_path, tiny_npz):
    """Each clustered layer's int8 weights take at most the clusters' count of values in each
    channel (per-channel scales), and the file keeps the Keras model's zeros."""
    report = Pipeline([
        Cluster(number_of_clusters=8), FineTune(epochs=1), Strip(),
        Quantize(mode="int8", samples=32, check_samples=32), Convert(sparse="off")],
    ).run("tiny_models:cnn", str(tiny_npz), out=tmp_path / "out")
    rows = kept_in_file(report)
    assert [r["layer"] for r in rows] == ["conv2d", "dense", "dense_1"]
    assert all(r["kept"] and r["keras"] <= 8 for r in rows), rows
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Clustering: 8 clusters (kmeans++)" in markdown
    assert "| conv2d | 8 |" in markdown


@pytest.mark.parametrize("params, message", [
    ({"number_of_clusters": 2}, "number_of_clusters must be in [3, 256], got 2"),
    ({"number_of_clusters": 1, "preserve_sparsity": False},
     "number_of_clusters must be in [2, 256], got 1"),
    ({"number_of_clusters": 300}, "number_of_clusters must be in [3, 256], got 300"),
])
def test_cluster_counts_out_of_range_are_recipe_errors(params, message):
    with pytest.raises(RecipeError) as info:
        Cluster(**params)
    assert info.value.what == message


def test_layers_tfmot_cannot_cluster_are_refused_by_name(make_ctx):
    ctx = make_ctx("mobile")
    with pytest.raises(ModelError) as info:
        run(ctx, Cluster(layers=("depthwise_conv2d",)))
    assert info.value.what == ("layer 'depthwise_conv2d' (DepthwiseConv2D) cannot be "
                               "clustered: tfmot clusters no weights of DepthwiseConv2D layers")
    with pytest.raises(ModelError, match="exclude names 'dens', which is no layer name"):
        run(ctx, Cluster(exclude=("dens",)))


RECIPE = """
version = 1
name = "clustered"
[model]
source = "tiny_models:mlp"
[data]
source = "{data}"

[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "cluster"
number_of_clusters = 8

[[stages]]
kind = "finetune"
epochs = 3

[[stages]]
kind = "strip"

[[stages]]
kind = "convert"
sparse = "off"
"""


class StopBefore(Reporter):
    """Ctrl-C as stage `kind` starts."""

    def __init__(self, kind: str):
        self.kind = kind

    def stage_started(self, index, total, kind, summary=""):
        if kind == self.kind:
            raise KeyboardInterrupt


def resumes_exactly(tmp_path, recipe: str, reporter: Reporter) -> None:
    """A build of `recipe` stopped by `reporter`, then resumed, gives an uninterrupted one's
    model.tflite and model.keras."""
    (tmp_path / "recipe.toml").write_text(recipe)
    build(tmp_path / "recipe.toml", tmp_path / "whole")
    with pytest.raises(Interrupted):
        build(tmp_path / "recipe.toml", tmp_path / "out", reporter=reporter)
    build(tmp_path / "recipe.toml", tmp_path / "out", resume=True)
    for name in ("model.tflite", "model.keras"):
        digests = {hashlib.sha256((tmp_path / out / name).read_bytes()).hexdigest()
                   for out in ("whole", "out")}
        assert len(digests) == 1, name


@pytest.mark.slow
@pytest.mark.parametrize("stop", [StopAfter("finetune", 1), StopBefore("convert")],
                         ids=["in the clustered fine-tune", "after it"])
def test_a_build_interrupted_while_clustered_resumes_to_the_same_bytes(tmp_path, tiny_npz,
                                                                       stop):
    """No checkpoint holds a clustered model (tfmot's wrappers do not read back): the build
    resumes from the one before and runs the clustered fine-tune again."""
    resumes_exactly(tmp_path, RECIPE.format(data=tiny_npz), stop)


def test_zeros_of_layers_not_clustered_are_held_while_fine_tuning(make_ctx):
    """A fine-tune would fill the pruned zeros of a layer left unclustered back in: a
    pruning mask holds them."""
    ctx = make_ctx("cnn")
    pruned = run(ctx, Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=1)),
                 FineTune(epochs=1), Strip())
    clustered = run(pruned, Cluster(number_of_clusters=4, exclude=("dense_1",)))
    assert clustered.result.zeros_held == ["dense_1"]
    out = run(clustered, FineTune(epochs=1, learning_rate=0.01), Strip())
    before = pruned.model.get_layer("dense_1").kernel.numpy()
    after = out.model.get_layer("dense_1").kernel.numpy()
    assert np.array_equal(before == 0, after == 0) and np.mean(after == 0) >= 0.45
    assert not np.array_equal(before, after)  # it trained


@pytest.mark.slow
@pytest.mark.parametrize("factory", ["functional", "subclassed"])
def test_a_keras3_model_is_clustered_as_it_is(tmp_path, tiny_npz, factory):
    """The keras3 engine clusters a Keras 3 model (a subclassed one too) without tfmot or
    translation: an earlier prune's zeros kept, at most the clusters in each tensor after
    strip and in the int8 file, and the model handed back is the user's class."""
    schedule = ConstantSparsity(target_sparsity=0.5, frequency=1)
    stages = [Prune(schedule=schedule), FineTune(epochs=1), Strip(),
              Cluster(number_of_clusters=6, per_channel=True), FineTune(epochs=2), Strip(),
              Quantize(mode="int8", samples=20), Convert(sparse="off")]
    report = Pipeline(stages).run(f"keras3_models:{factory}", str(tiny_npz),
                                  out=tmp_path / "out")
    assert report.model["engine"] == "keras3" and "translation" not in report.model
    rows = kept_in_file(report)
    assert rows and all(row["kept"] and row["keras"] <= 6 for row in rows)
    before, after = (report.stages[i]["outputs"]["zeros"] for i in (2, 5))
    assert after == before and before > 0  # the pruned zeros are kept
    assert report.extra["clustering"][0]["clustered_layers"]


@pytest.mark.slow
def test_a_keras3_build_interrupted_while_clustered_resumes_to_the_same_bytes(tmp_path,
                                                                              tiny_npz):
    """The keras3 engine's centroids are saved beside the model: the build resumes from the
    epoch it stopped in, to the bytes of an uninterrupted one."""
    import shutil

    from test_keras3_engine import TESTS
    shutil.copy(TESTS / "keras3_models.py", tmp_path / "keras3_models.py")
    recipe = RECIPE.format(data=tiny_npz).replace("tiny_models:mlp", "keras3_models.py:subclassed")
    resumes_exactly(tmp_path, recipe, StopAfter("finetune", 1))


def test_keras3_centroids_start_as_asked():
    from prune2edge.keras3.clustering import initial_centroids
    values = np.arange(1.0, 101.0)
    rng = np.random.default_rng(0)
    assert np.allclose(initial_centroids(values, 4, "linear", rng), [1, 34, 67, 100])
    assert np.allclose(initial_centroids(values, 4, "density", rng),
                       np.quantile(values, [0.125, 0.375, 0.625, 0.875]))
    chosen = initial_centroids(values, 4, "kmeans++", rng)
    assert len(set(chosen)) == 4 and set(chosen) <= set(values)
    assert list(chosen) == sorted(chosen)


def test_tflite_weights_are_named_by_their_keras_layer_in_both_kerases():
    """tf_keras names a tensor by its layer; a Keras 3 graph by the layer's scope, suffixed
    (`dense_1` for the layer `dense`, `dense_1_2` for `dense_1`): the size decides."""
    from prune2edge.stages.convert import _layer_of
    layers = {"dense": ("dense", {43264, 32}), "dense_1": ("dense_1", {320, 10}),
              "conv2d": ("conv2d", {72, 8})}
    assert _layer_of("model/dense_1/MatMul;model/dense_1/BiasAdd", 320, layers) == "dense_1"
    assert _layer_of("dense_1", 43264, layers) == "dense"
    assert _layer_of("digits_1/dense_1_2/MatMul", 320, layers) == "dense_1"
    assert _layer_of("digits_1/conv2d_1/convolution", 72, layers) == "conv2d"
    assert _layer_of("model/unknown/MatMul", 5, layers) == "model/unknown/MatMul"
