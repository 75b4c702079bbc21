"""Each stage's contract on a tiny model: what it needs, what it hands on, what it reports."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages as run
from prune2edge import _compat
from prune2edge.errors import BuildFailed, ModelError, RecipeError
from prune2edge.keras.model import has_pruning_wrappers, weight_sparsity
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages import (
    Baseline,
    Convert,
    FineTune,
    Measure,
    Prune,
    Quantize,
    Strip,
    Train,
    Validate,
)

PRUNE_60 = Prune(schedule=ConstantSparsity(target_sparsity=0.6, frequency=5))


@pytest.mark.slow
def test_train_trains_a_copy_and_sets_the_baseline(make_ctx):
    ctx = make_ctx()
    before = [w.copy() for w in ctx.model.get_weights()]
    out = run(ctx, Train(epochs=1))
    assert out.model is not ctx.model and out.baseline_model is out.model
    assert all(np.array_equal(a, b) for a, b in zip(before, ctx.model.get_weights(), strict=True))
    assert out.result.test_accuracy > 0.5
    assert out.result.loss_fn == "sparse_categorical_crossentropy(from_logits=False)"


@pytest.mark.slow
def test_baseline_trains_a_dense_copy_and_leaves_the_model_untrained(make_ctx):
    """For recipes that train while pruning: the report's reference is a trained dense
    model, not the untrained input."""
    from prune2edge.keras.model import accuracy

    ctx = make_ctx()
    before = [w.copy() for w in ctx.model.get_weights()]
    out = run(ctx, Baseline(epochs=1))
    assert out.model is ctx.model and out.baseline_model is not ctx.model
    assert all(np.array_equal(a, b) for a, b in zip(before, out.model.get_weights(), strict=True))
    data = ctx.setup.data
    assert out.result.test_accuracy == accuracy(out.baseline_model, data.x_test, data.y_test)
    assert out.result.test_accuracy > 0.5 > accuracy(out.model, data.x_test, data.y_test)


def test_prune_wraps_chosen_layers_and_lists_the_rest(make_ctx):
    ctx = make_ctx("cnn")
    out = run(ctx, Prune(schedule=ConstantSparsity(), exclude=("dense_1",)))
    assert has_pruning_wrappers(out.model) and not has_pruning_wrappers(ctx.model)
    assert out.baseline_model is ctx.model
    assert out.result.pruned_layers == ["conv2d", "dense"]
    reasons = {d["layer"]: d["reason"] for d in out.result.dense_layers}
    assert reasons == {
        "batch_normalization": "tfmot prunes no weights of BatchNormalization layers",
        "dense_1": "listed in prune.exclude"}


@pytest.mark.slow
def test_prune_by_type_and_block_sparsity_keeps_convs_dense(make_ctx):
    out = run(make_ctx("cnn"), Prune(schedule=PRUNE_60.schedule, layers=("Dense",),
                                     block_size=(1, 4)), FineTune(epochs=1), Strip())
    kernel = out.model.get_layer("dense").get_weights()[0]  # (inputs, 32): 8 blocks a row
    zero_blocks = (kernel.reshape(kernel.shape[0], -1, 4) == 0).all(axis=-1)
    assert np.count_nonzero(kernel == 0) == 4 * np.count_nonzero(zero_blocks)  # whole blocks
    assert zero_blocks.mean() == pytest.approx(0.6, abs=0.01)
    assert np.count_nonzero(out.model.get_layer("conv2d").get_weights()[0] == 0) == 0
    choices = Prune(block_size=(1, 4)).choose_layers(make_ctx("cnn").model)
    conv = next(c for c in choices if c.name == "conv2d")
    assert not conv.chosen and "block sparsity needs 2-D weights" in conv.reason


def test_blocks_that_span_a_whole_kernel_dimension_are_skipped(make_ctx):
    choices = Prune(block_size=(1, 16)).choose_layers(make_ctx().model)  # dense_1 is 32x10
    reasons = {c.name: c.reason for c in choices}
    assert reasons["dense"] == ""
    assert reasons["dense_1"] == ("a 1x16 block spans a whole dimension of its 32x10 kernel, "
                                  "which tfmot's block pruning cannot handle")


def test_prune_rejects_named_layers_it_cannot_prune(make_ctx):
    with pytest.raises(ModelError) as info:
        Prune(layers=("conv2d",), block_size=(2, 2)).choose_layers(make_ctx("cnn").model)
    assert "layer 'conv2d' (Conv2D) cannot be pruned" in info.value.what
    with pytest.raises(ModelError) as info:
        Prune(exclude=("dens",)).choose_layers(make_ctx().model)
    assert info.value.what == "exclude names 'dens', which is no layer name or type"
    assert "dense_1" in info.value.fix
    with pytest.raises(ModelError) as info:
        Prune(exclude=("Dense",)).choose_layers(make_ctx().model)
    assert info.value.what == "nothing to prune"


@pytest.mark.slow
def test_prune_resolves_a_share_of_the_following_finetune(make_ctx):
    from prune2edge.sparsity.schedules import PolynomialDecay

    finetune = FineTune(epochs=3, batch_size=32, validation_split=0.1)
    ctx = make_ctx()
    out = run(ctx, Prune(schedule=PolynomialDecay(end_step="50%", frequency=5)), finetune)
    steps = finetune.total_steps(len(ctx.setup.data.x_train))
    assert steps == 3 * 18  # 576 of 640 samples, batches of 32
    prune_out = Prune(schedule=PolynomialDecay(end_step="50%", frequency=5)).run(
        ctx.controlled(remaining=(finetune,))).result
    assert prune_out.schedule["end_step"] == 25  # 27 rounded down to a turn
    assert prune_out.finetune_steps == steps
    assert out.result.epochs == 3


@pytest.mark.slow
def test_finetune_and_strip_reach_the_target_sparsity(make_ctx):
    out = run(make_ctx(), Train(epochs=1), PRUNE_60, FineTune(epochs=1), Strip())
    assert not has_pruning_wrappers(out.model)
    sparsity = weight_sparsity(out.model)
    assert [round(layer["sparsity"], 2) for layer in sparsity["layers"]] == [0.6, 0.6]
    assert out.result.sparsity == pytest.approx(0.6, abs=0.01)
    assert weight_sparsity(out.baseline_model)["overall"] == 0.0


@pytest.mark.slow
def test_finetune_never_trains_the_baseline_in_place(make_ctx):
    ctx = make_ctx()
    before = ctx.model.get_weights()[0].copy()
    out = run(ctx, FineTune(epochs=1))
    assert out.model is not ctx.baseline_model
    assert np.array_equal(ctx.baseline_model.get_weights()[0], before)


def test_finetune_stops_on_a_nan_loss(make_ctx):
    with pytest.raises(BuildFailed) as info:
        run(make_ctx(), FineTune(epochs=2, optimizer="sgd", learning_rate=1e30))
    assert info.value.what == "the loss became NaN or Inf in epoch 1 of finetune"


def test_measure_sizes_the_keras_model_and_every_tflite(make_ctx):
    out = run(make_ctx(), Measure())
    assert set(out.result.sizes) == {"keras_h5"}
    assert 0 < out.result.sizes["keras_h5"].gzip_bytes < out.result.sizes["keras_h5"].bytes
    out = run(out, Convert(), Measure())
    assert list(out.result.to_dict()) == ["keras_h5", "baseline.tflite", "model.tflite"]


def test_quantize_draws_the_same_samples_for_the_same_seed(make_ctx):
    ctx = make_ctx()
    one = run(ctx, Quantize(samples=50))
    two = run(ctx, Quantize(samples=50))
    assert one.quantization.samples.shape == (50, 28, 28)
    assert np.array_equal(one.quantization.samples, two.quantization.samples)
    assert one.result.to_dict() == {"mode": "int8", "io_type": "float32",
                                    "representative_samples": 50, "per_channel": True}
    assert run(ctx, Quantize(mode="float16")).quantization.samples is None


@pytest.mark.slow
def test_per_tensor_int8_stores_one_scale_per_weight_tensor(make_ctx):
    from prune2edge.sizes import Size
    ctx = make_ctx("cnn")
    files, scales = {}, {}
    for per_channel in (True, False):
        work = ctx.setup.work_dir / str(per_channel)
        work.mkdir(parents=True)
        out = run(ctx.set_up(work_dir=work),
                  Quantize(samples=20, per_channel=per_channel), Convert(sparse="off"))
        files[per_channel] = out.tflite["final"]
        model = _compat.flatbuffer_utils().read_model(str(files[per_channel]))
        scales[per_channel] = [len(t.quantization.scale) for t in model.subgraphs[0].tensors
                               if t.type == 9 and len(t.shape) > 1  # int8 weights
                               and model.buffers[t.buffer].data is not None]
    assert max(scales[True]) > 1 and set(scales[False]) == {1}
    assert Size.of_file(files[False]).bytes < Size.of_file(files[True]).bytes
    with pytest.raises(RecipeError, match="per_channel = false needs mode"):
        Quantize(mode="float16", per_channel=False)


@pytest.mark.slow
def test_convert_auto_keeps_the_smaller_encoding_and_records_both(make_ctx):
    from prune2edge.sizes import Size

    out = run(make_ctx(), Train(epochs=1), PRUNE_60, FineTune(epochs=1), Strip(), Convert())
    candidates = out.result.candidates
    assert set(candidates) == {"dense", "sparse"}
    chosen = out.result.encoding
    assert candidates[chosen]["gzip_bytes"] == min(c["gzip_bytes"] for c in candidates.values())
    assert {k: v for k, v in candidates[chosen].items() if k != "p50_ms"} == \
        Size.of_file(out.tflite["final"]).to_dict()
    assert all(c["p50_ms"] > 0 for c in candidates.values())  # both timed, whichever won
    assert out.tflite["baseline"].name == "baseline.tflite"
    only_sparse = run(out.evolve(tflite={}), Convert(sparse="on"))
    assert set(only_sparse.result.candidates) == {"sparse"}


def _tensor_types(path):
    interpreter_cls, _ = _compat.litert()
    interpreter = interpreter_cls(model_path=str(path))
    return {d["dtype"].__name__ for d in interpreter.get_tensor_details()}


@pytest.mark.slow
def test_convert_applies_the_quantization_plan(make_ctx):
    ctx = run(make_ctx(), Train(epochs=1))
    int8 = run(ctx, Quantize(mode="int8", samples=20), Convert(sparse="off"))
    assert "int8" in _tensor_types(int8.tflite["final"])
    assert "int8" not in _tensor_types(int8.tflite["baseline"])
    io = run(ctx, Quantize(mode="int8", samples=20, io_type="uint8"), Convert(sparse="off"))
    interpreter_cls, _ = _compat.litert()
    interpreter = interpreter_cls(model_path=str(io.tflite["final"]))
    assert interpreter.get_input_details()[0]["dtype"].__name__ == "uint8"
    f16 = run(ctx, Quantize(mode="float16"), Convert(sparse="off"))
    assert "float16" in _tensor_types(f16.tflite["final"])


@pytest.mark.slow
def test_validate_matches_an_independent_interpreter_loop(make_ctx):
    out = run(make_ctx(), Train(epochs=1), Quantize(samples=20), Convert(),
              Validate(runs=5, warmup=1, batch_size=64))
    interpreter_cls, _ = _compat.litert()
    interpreter = interpreter_cls(model_path=str(out.tflite["final"]))
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    hits = 0
    for x, y in zip(out.setup.data.x_test, out.setup.data.y_test, strict=True):
        interpreter.set_tensor(inp["index"], x[None])
        interpreter.invoke()
        hits += int(interpreter.get_tensor(outp["index"]).argmax() == y)
    accuracy = out.result.accuracy
    assert accuracy["tflite"] == hits / len(out.setup.data.y_test)
    assert abs(accuracy["keras"] - accuracy["tflite"]) <= 0.02
    assert out.result.agreement["top1"] > 0.95
    latency = out.result.latency_ms
    assert latency["final"]["runs"] == 5 and latency["final"]["p50"] > 0
    assert latency["final"]["kernels"] == "xnnpack (5 ops) + builtin (SOFTMAX)"
