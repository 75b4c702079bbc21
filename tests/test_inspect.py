"""inspect: zero shares and encodings exactly as stored, decoded through the TFLite schema."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.cli.render import inspect_tables
from prune2edge.errors import TFLiteError
from prune2edge.inspect import entropy_bits, inspect


def _kernels(model):
    """Keras Dense kernels as TFLite stores them ([out, in])."""
    return [layer.get_weights()[0].T for layer in model.layers if layer.get_weights()]


def _weights(info):
    return [t for t in info.tensors if t.role == "weights"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["float_dense", "float_sparse"])
def test_zero_shares_match_the_keras_weights_exactly(tiny_files, name):
    info = inspect(tiny_files.files[name])
    kernels = _kernels(tiny_files.ctx.model)
    weights = sorted(_weights(info), key=lambda t: t.shape[0], reverse=True)
    assert [t.shape for t in weights] == [k.shape for k in kernels]
    for tensor, kernel in zip(weights, kernels, strict=True):
        assert tensor.zeros == np.mean(kernel == 0)
        assert tensor.distinct == len(np.unique(kernel))  # decoded, the zeros counted once


def test_sparse_tensors_decode_to_the_exact_weights(tiny_files):
    """Decoding the CSR and the 1x4 block encodings gives back every weight bit for bit."""
    from prune2edge.tflite.model import TFLiteModel, densify

    for name, ctx in (("float_sparse", tiny_files.ctx),
                      ("float_block_sparse", tiny_files.block_ctx)):
        view = TFLiteModel.of_file(tiny_files.files[name])
        decoded = []
        for tensor in view.graph.tensors:
            if tensor.sparsity is not None:
                values = view.data(tensor).view(np.float32)
                dense, _, _ = densify(tensor.sparsity, values, tuple(tensor.shape))
                decoded.append(dense)
        kernels = {k.shape: k for k in _kernels(ctx.model)}
        assert decoded, f"{name} has no sparse tensor"
        for dense in decoded:
            assert np.array_equal(dense, kernels[dense.shape])


@pytest.mark.slow
def test_encodings_are_the_ones_the_converter_wrote(tiny_files):
    dense = _weights(inspect(tiny_files.files["float_dense"]))
    assert {t.encoding for t in dense} == {"dense"}
    sparse = _weights(inspect(tiny_files.files["float_sparse"]))
    assert all(t.encoding.startswith("sparse dense/CSR") for t in sparse)
    assert all(t.op.endswith("(via DENSIFY)") for t in sparse)
    assert all("densified when the model loads" in t.kernel_note for t in sparse)
    block = _weights(inspect(tiny_files.files["float_block_sparse"]))
    assert [t.encoding.split(" (")[0] for t in block] == ["sparse dense/CSR/dense 1x4 blocks"] * 2
    assert all(t.op == "FULLY_CONNECTED" for t in block)  # no DENSIFY: the sparse kernel runs
    assert all("builtin sparse FULLY_CONNECTED kernel runs it" in t.kernel_note for t in block)
    int8 = _weights(inspect(tiny_files.files["int8_sparse"]))
    assert {t.dtype for t in int8} == {"int8"}
    kernels = _kernels(tiny_files.ctx.model)
    assert sorted(t.zeros for t in int8) == sorted(float(np.mean(k == 0)) for k in kernels)


def test_sizes_and_entropy(tiny_files):
    info = inspect(tiny_files.files["float_sparse"])
    path = tiny_files.files["float_sparse"]
    assert info.file_bytes == path.stat().st_size
    assert 0 < info.totals["entropy_bytes"] < info.totals["stored_bytes"] < info.file_bytes
    assert entropy_bits(np.array([1, 1, 2, 2], np.int8)) == 4.0
    assert entropy_bits(np.zeros(10, np.int8)) == 0.0


@pytest.mark.parametrize("name", ["keras", "keras_h5"])
def test_keras_files(tiny_files, name):
    info = inspect(tiny_files.files[name])
    weights = _weights(info)
    assert info.format == "keras" and [t.op for t in weights] == ["Dense", "Dense"]
    assert [t.zeros for t in weights] == [float(np.mean(k == 0))
                                          for k in _kernels(tiny_files.ctx.model)]
    assert [t.distinct for t in weights] == [len(np.unique(k))
                                             for k in _kernels(tiny_files.ctx.model)]


@pytest.mark.parametrize(("content", "what"), [
    (b"", "not a TFLite model (no TFL3 identifier)"),
    (b"\x1c\x00\x00\x00TFL3" + b"\xff" * 40, "cannot read the model"),
])
def test_corrupt_files(tmp_path, content, what):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(TFLiteError) as info:
        inspect(path)
    assert info.value.what.startswith(what)


def test_truncated_file_is_a_clear_cli_error(tmp_path, tiny_files):
    path = tmp_path / "cut.tflite"
    path.write_bytes(tiny_files.files["float_sparse"].read_bytes()[:20000])
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_cli_table_and_json(tiny_files):
    path = str(tiny_files.files["int8_sparse"])
    result = CliRunner().invoke(app, ["inspect", path])
    assert result.exit_code == 0, result.output
    assert "sparse kernels:" in result.stdout and "dense weights" in result.stdout
    table = inspect_tables(inspect(path))[0]
    assert "distinct" in [column.header for column in table.columns]
    result = CliRunner().invoke(app, ["inspect", path, "--json"])
    doc = json.loads(result.stdout)
    assert doc["format"] == "tflite" and doc["totals"]["sparse_tensors"] >= 1
    assert {"name", "op", "shape", "dtype", "zeros", "distinct", "encoding", "bytes",
            "entropy_bits", "kernel_note"} <= set(doc["tensors"][0])



def test_per_channel_int8_tensors_count_distinct_values_per_channel(tiny_files):
    """A float tensor has one set of values; an int8 one with a scale per output channel
    stores each channel's values on its own grid, so a clustered kernel's count holds per
    channel: the most in one channel is shown beside the total."""
    floats = _weights(inspect(tiny_files.files["float_dense"]))
    assert all(t.channel_distinct == t.distinct for t in floats)
    info = inspect(tiny_files.files["int8_dense_int8_io"])
    per_channel = [t for t in _weights(info) if t.channel_distinct < t.distinct]
    assert per_channel, "the converter gives int8 weights a scale per channel"
    table = inspect_tables(info)[0]
    column = next(c for c in table.columns if c.header == "distinct")
    shown = list(column.cells)
    assert any(cell == f"{t.distinct:,}, {t.channel_distinct:,} a channel"
               for t in per_channel for cell in shown)
