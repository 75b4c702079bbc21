"""The private TensorFlow, tfmot and LiteRT APIs `_compat` wraps, exercised on this stack, and
what depends on them (e.g. layers that name their own prunable weights)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import _compat
from prune2edge.keras.model import prunable_weights, weight_sparsity
from prune2edge.sparsity.schedules import ConstantSparsity
from prune2edge.stages import FineTune, Prune, Strip
from prune2edge.tflite.runner import TFLiteRunner


def _own_prunable_dense():
    keras, sparsity = _compat.keras(), _compat.tfmot_sparsity()

    class OwnPrunableDense(keras.layers.Dense, sparsity.PrunableLayer):
        """A layer that tells tfmot itself which weights to prune (only its kernel)."""

        def get_prunable_weights(self):
            return [self.kernel]

    return OwnPrunableDense


def test_tfmot_weight_names_from_its_registry():
    layers = _compat.keras().layers
    dense, norm = layers.Dense(3), layers.BatchNormalization()
    dense.build((None, 4))
    norm.build((None, 4))
    assert _compat.tfmot_weight_names(dense) == ["kernel"]
    assert _compat.tfmot_weight_names(norm) == []
    class Unknown(layers.Layer):
        pass

    assert _compat.tfmot_weight_names(Unknown()) is None
    assert prunable_weights(dense) == [dense.kernel]


def test_graph_networks_and_subclassed_models():
    keras = _compat.keras()
    inputs = keras.Input((4,))
    assert _compat.is_graph_network(keras.Model(inputs, keras.layers.Dense(2)(inputs)))

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    assert not _compat.is_graph_network(Subclassed())


def test_litert_ops_list_the_interpreter_graph(tiny_files):
    runner = TFLiteRunner(tiny_files.files["float_dense"])
    ops = _compat.litert_ops(runner.interpreter)
    assert {"op_name", "index", "inputs", "outputs"} <= set(ops[0])
    assert {op["op_name"] for op in ops} >= {"DELEGATE", "FULLY_CONNECTED"}  # XNNPACK + originals


@pytest.mark.slow
def test_a_prunable_layer_is_pruned_by_obd_through_its_own_weight_list(make_ctx):
    keras = _compat.keras()
    layer_cls = _own_prunable_dense()
    ctx = make_ctx()
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              layer_cls(32, activation="relu", name="own"),
                              keras.layers.Dense(10, activation="softmax", name="head")])
    ctx = ctx.evolve(model=model, baseline_model=model)
    assert prunable_weights(model.get_layer("own")) == [model.get_layer("own").kernel]
    prune = Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=5), criterion="obd",
                  calibration_samples=32, layers=("own",))
    out = run_stages(ctx, prune, FineTune(epochs=1), Strip())
    sparsity = {row["layer"]: row["sparsity"] for row in weight_sparsity(out.model)["layers"]}
    assert np.isclose(sparsity["own"], 0.5, atol=0.01) and sparsity["head"] == 0.0


def test_quantize_a_calibrated_model_with_a_float_op_verify_ops_or_the_sparse_encoding(
        make_ctx):
    from prune2edge.keras.converter import QuantizationPlan, calibrate

    ctx = make_ctx()
    plan = QuantizationPlan("int8", samples=ctx.setup.data.x_train[:20])
    calibrated = calibrate(ctx.model, plan)  # `converter_switches(calibrate_only=True)`

    def ops(content):
        model = _compat.flatbuffer_utils().read_model_from_bytearray(bytearray(content))
        return [_compat.flatbuffer_utils().opcode_to_name(model, op.opcodeIndex)
                for op in model.subgraphs[0].operators]

    int8 = _compat.tflite_quantize(calibrated, per_channel=True, io_type="float32")
    assert ops(int8).count("DEQUANTIZE") == 1  # only the output
    model = _compat.flatbuffer_utils().read_model_from_bytearray(bytearray(int8))
    graph = model.subgraphs[0]
    first = graph.tensors[graph.operators[ops(int8).index("FULLY_CONNECTED")].outputs[0]].name
    kept = _compat.tflite_quantize(calibrated, per_channel=True, io_type="float32",
                                   float_nodes=(first.decode(),))
    assert ops(kept).count("DEQUANTIZE") == 2  # the float op's input comes back to float
    verified = _compat.tflite_quantize(calibrated, per_channel=True, io_type="int8",
                                       verify=True)
    assert ops(verified).count("CUSTOM") == 4  # a NumericVerify op after each quantized op
    assert len(_compat.tflite_sparsify(int8)) > 0
