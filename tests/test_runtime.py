"""LiteRT runner: XNNPACK fallback, quantized I/O, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge.errors import TFLiteError
from prune2edge.tflite.runner import TFLiteRunner


def test_xnnpack_refuses_sparse_int8_and_builtin_kernels_run_it(tiny_files):
    ctx, files = tiny_files.ctx, tiny_files.files
    runner = TFLiteRunner(files["int8_sparse"])
    assert runner.kernels == "builtin"
    assert runner.fallback.startswith("XNNPACK refused the model")
    accuracy = np.mean(runner.predict(ctx.setup.data.x_test).argmax(1) == ctx.setup.data.y_test)
    assert accuracy > 0.5
    assert runner.latency(ctx.setup.data.x_test[:1], runs=3, warmup=1).kernels == "builtin"
    dense = TFLiteRunner(files["float_dense"])
    assert (dense.kernels, dense.fallback) == ("xnnpack", None)


def test_mixed_graphs_name_the_ops_the_builtin_kernels_ran(tiny_files):
    runner = TFLiteRunner(tiny_files.files["float_block_sparse"])
    assert runner.kernels == "xnnpack (2 ops) + builtin (FULLY_CONNECTED)"  # RESHAPE, SOFTMAX
    xnnpack, builtin = runner.kernel_split()
    assert (xnnpack, builtin) == (["RESHAPE", "SOFTMAX"], ["FULLY_CONNECTED", "FULLY_CONNECTED"])


def test_batched_predictions_equal_single_sample_ones(tiny_files):
    ctx, files = tiny_files.ctx, tiny_files.files
    runner = TFLiteRunner(files["int8_dense_int8_io"])
    assert runner.input["dtype"] == np.int8
    x_test = ctx.setup.data.x_test[:37]
    batched = runner.predict(x_test, batch_size=16)
    single = np.concatenate([runner.predict(x[None], batch_size=1) for x in x_test])
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


def test_truncated_file(tmp_path, tiny_files):
    path = tmp_path / "cut.tflite"
    path.write_bytes(tiny_files.files["float_dense"].read_bytes()[:5000])
    with pytest.raises(TFLiteError):
        TFLiteRunner(path)


def test_inputs_that_do_not_fit(tiny_files):
    with pytest.raises(TFLiteError) as info:
        TFLiteRunner(tiny_files.files["float_dense"]).predict(np.zeros((4, 10, 10), np.float32))
    assert info.value.what == ("the data's samples have shape (10, 10) but the model's input "
                               "is (28, 28)")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["float_sparse", "int8_sparse", "int8_dense_int8_io"])
def test_stripped_names_run_the_same_in_a_smaller_file(tiny_files, tmp_path, name):
    from prune2edge.inspect import inspect
    from prune2edge.sizes import Size
    from prune2edge.tflite.strip import strip_names

    ctx, original = tiny_files.ctx, tiny_files.files[name]
    stripped = tmp_path / "stripped.tflite"
    stripped.write_bytes(strip_names(original.read_bytes()))
    before, after = Size.of_file(original), Size.of_file(stripped)
    assert after.bytes < before.bytes and after.gzip_bytes < before.gzip_bytes
    x = ctx.setup.data.x_test[:50]
    assert np.array_equal(TFLiteRunner(stripped).predict(x), TFLiteRunner(original).predict(x))
    assert inspect(stripped).totals == inspect(original).totals  # the same weights


def test_convert_strips_names_when_asked(tiny_files):
    from conftest import run_stages
    from prune2edge.stages import Convert

    ctx, files = tiny_files.ctx, tiny_files.files
    out = run_stages(ctx, Convert(sparse="off", strip_names=True))
    final = out.tflite["final"]
    assert final.stat().st_size < files["float_dense"].stat().st_size
    x = ctx.setup.data.x_test[:20]
    assert np.array_equal(TFLiteRunner(final).predict(x),
                          TFLiteRunner(files["float_dense"]).predict(x))
