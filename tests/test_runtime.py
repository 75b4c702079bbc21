"""LiteRT runner: XNNPACK fallback, quantized I/O, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny_context
from prune2edge.errors import TFLiteError
from prune2edge.runtime import TFLiteRunner
from prune2edge.schedules import ConstantSparsity
from prune2edge.stages import Convert, FineTune, Prune, Quantize, Strip, Train


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_arrays):
    """Sparse int8, dense float32 and int8-I/O files of one tiny pruned MLP."""
    ctx = tiny_context(tiny_arrays, tmp_path_factory.mktemp("work"))
    finetune = FineTune(epochs=1)
    for stage in (Train(epochs=1), Prune(schedule=ConstantSparsity(target_sparsity=0.8,
                                                                    frequency=5)),
                  finetune, Strip()):
        ctx = stage.run(ctx.evolve(remaining=(finetune,)))
    out = tmp_path_factory.mktemp("tflite")
    files = {}
    for name, stages in (("sparse_int8", (Quantize(samples=20), Convert(sparse="on"))),
                         ("int8_io", (Quantize(samples=20, io_type="int8"),
                                      Convert(sparse="off")))):
        converted = ctx
        for stage in stages:
            converted = stage.run(converted)
        files[name] = out / f"{name}.tflite"
        files[name].write_bytes(converted.tflite["final"].read_bytes())
        files["float"] = out / "float.tflite"
        files["float"].write_bytes(converted.tflite["baseline"].read_bytes())
    return ctx, files


def test_xnnpack_refuses_sparse_int8_and_builtin_kernels_run_it(built):
    ctx, files = built
    runner = TFLiteRunner(files["sparse_int8"])
    assert runner.kernels == "builtin"
    assert runner.fallback.startswith("XNNPACK refused the model")
    accuracy = np.mean(runner.predict(ctx.data.x_test).argmax(1) == ctx.data.y_test)
    assert accuracy > 0.5
    assert runner.latency(ctx.data.x_test[:1], runs=3, warmup=1).kernels == "builtin"
    dense = TFLiteRunner(files["float"])
    assert (dense.kernels, dense.fallback) == ("xnnpack", None)


def test_batched_predictions_equal_single_sample_ones(built):
    ctx, files = built
    runner = TFLiteRunner(files["int8_io"])
    assert runner.input["dtype"] == np.int8
    batched = runner.predict(ctx.data.x_test[:37], batch_size=16)
    single = np.concatenate([runner.predict(x[None], batch_size=1) for x in ctx.data.x_test[:37]])
    assert batched.dtype == np.float32 and np.array_equal(batched, single)


@pytest.mark.parametrize(("content", "what"), [
    (None, "model file not found"),
    (b"", "not a valid .tflite model"),
    (b"garbage" * 100, "not a valid .tflite model"),
])
def test_bad_files_are_clear_errors(tmp_path, content, what):
    path = tmp_path / "m.tflite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TFLiteError) as info:
        TFLiteRunner(path)
    assert info.value.what.startswith(what)


def test_truncated_file(tmp_path, built):
    _, files = built
    path = tmp_path / "cut.tflite"
    path.write_bytes(files["float"].read_bytes()[:5000])
    with pytest.raises(TFLiteError):
        TFLiteRunner(path)


def test_inputs_that_do_not_fit(built):
    _, files = built
    with pytest.raises(TFLiteError) as info:
        TFLiteRunner(files["float"]).predict(np.zeros((4, 10, 10), np.float32))
    assert info.value.what == ("the data's samples have shape (10, 10) but the model's input "
                               "is (28, 28)")
