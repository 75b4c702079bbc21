"""int8 quantization you can debug: each op's error from TensorFlow's quantization debugger,
layers kept in float by name, and accuracy control that finds them when int8 breaks a model.

The broken model is the classic case: one output channel of a conv scaled up 300x and the
head's weights for it scaled down as much. Keras computes the same function; int8 gives the
whole tensor one scale, which the outlier sets, leaving the other channels a step or two."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.errors import RecipeError
from prune2edge.quantization.layers import channel_error, error_steps, tensor_error
from prune2edge.stages import Quantize

OUTLIER = 300.0
STAGES = """
[[stages]]
kind = "quantize"
mode = "int8"
samples = 100
{quantize}

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
min_agreement = 0.95
"""
runner = CliRunner()


def test_channel_error_sees_the_channels_an_outlier_leaves_without_resolution():
    rng = np.random.default_rng(0)
    value = rng.uniform(0, 1, (50, 4)).astype(np.float32)
    value[:, 0] *= OUTLIER  # one channel sets the scale
    scale = value.max() / 255
    quant = np.round(value / scale).astype(np.int32) - 128
    # Channels 1-3 hold values under 1 with a step of about 1.2: most round to 0, their
    # relative error is near 1; channel 0 keeps 8 bits. The tensor-wide figure hides it.
    per_channel = channel_error(value, quant, scale, -128)
    dequantized = (quant + 128) * scale
    by_hand = np.mean([np.sqrt(np.mean((dequantized[:, c] - value[:, c]) ** 2))
                       / np.sqrt(np.mean(value[:, c] ** 2)) for c in range(4)])
    assert per_channel == pytest.approx(by_hand, rel=1e-6) and per_channel > 0.3
    assert tensor_error(value, quant, scale, -128) < 0.01
    assert 0.2 < error_steps(value, quant, scale, -128) < 0.35  # plain rounding: ~0.29


def test_int8_only_settings_need_int8():
    with pytest.raises(RecipeError, match='accuracy_control = true needs mode = "int8"'):
        Quantize(mode="dynamic", accuracy_control=True)
    with pytest.raises(RecipeError, match='float_layers needs mode = "int8"'):
        Quantize(mode="float16", float_layers=("conv",))
    with pytest.raises(RecipeError, match="max_drop must be >= 0"):
        Quantize(accuracy_control=True, max_drop=-1)


@pytest.fixture(scope="module")
def outlier_model(tmp_path_factory, tiny_arrays):
    """A small CNN (batch norm, depthwise conv) trained on the tiny split, then given an
    outlier channel that leaves its Keras function unchanged."""
    from prune2edge import _compat, examples

    _compat.keras().utils.set_random_seed(0)
    model = examples.outlier_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x_train = tiny_arrays["x_train"][..., None] / 255.0
    model.fit(x_train, tiny_arrays["y_train"], epochs=8, batch_size=32, verbose=0)
    examples.add_outlier_channel(model, OUTLIER)
    path = tmp_path_factory.mktemp("outlier") / "outlier.keras"
    model.save(path)
    return path


def build(write_recipe, tmp_path, model, quantize, name):
    recipe = write_recipe(STAGES.format(quantize=quantize), model=str(model),
                          name=f"{name}.toml")
    out = tmp_path / name
    result = runner.invoke(app, ["build", str(recipe), "--out", str(out), "--quiet"])
    return result, out


@pytest.mark.slow
def test_accuracy_control_keeps_the_outlier_path_in_float_and_the_build_passes(
        write_recipe, tmp_path, outlier_model):
    plain, out = build(write_recipe, tmp_path, outlier_model, "", "plain")
    assert plain.exit_code == 4 and "Keras and the .tflite pick different classes" in \
        plain.stderr
    report = json.loads((out / "report.json").read_text())
    errors = report["conversion"]["int8"]["layer_errors"]
    worst = {tuple(e["layers"]) for e in errors[:2]}  # the outlier path, in either order
    assert worst == {("head",), ("conv2",)}
    assert errors[1]["error"] > 0.5 and all(e["error"] < 0.05 for e in errors[2:])
    assert "converter_float_ops" not in report["conversion"]["int8"]  # all int8

    controlled, out = build(write_recipe, tmp_path, outlier_model,
                            "accuracy_control = true", "controlled")
    assert controlled.exit_code == 0, controlled.output
    report = json.loads((out / "report.json").read_text())
    int8 = report["conversion"]["int8"]
    assert {"head (FULLY_CONNECTED)", "conv2 (CONV_2D)"} <= set(int8["float_layers"])
    control = int8["accuracy_control"]
    assert control["met"] and control["attempts"][0]["float_layers"] == []
    assert control["attempts"][0]["agreement"] < 0.9 <= control["attempts"][-1]["agreement"]
    assert control["min_agreement"] == 0.95  # the validate stage's
    assert report["agreement"]["top1"] >= 0.95  # on the test split, which control never saw
    before = {e["node"]: e for e in int8["all_int8_errors"]}
    after = {e["node"]: e for e in int8["layer_errors"]}
    assert set(int8["float_nodes"]).isdisjoint(after) and set(after) < set(before)
    cost = int8["float_cost"]
    assert cost["with_float"]["bytes"] > cost["all_int8"]["bytes"]
    markdown = (out / "report.md").read_text()
    assert "## int8 error per layer" in markdown and "Accuracy control" in markdown
    assert "| conv2 (CONV_2D) | 93" in markdown or "conv2 (CONV_2D) |" in markdown

    shown = runner.invoke(app, ["inspect", str(out / "model.tflite")])
    assert shown.exit_code == 0 and "int8 error per layer" in shown.output

    # The same Keras layers named in the recipe: every op they became stays float (the
    # head's softmax too), and the build passes.
    names = sorted({label.split(" (")[0] for label in int8["float_layers"]})
    named, named_out = build(write_recipe, tmp_path, outlier_model,
                             f"float_layers = {json.dumps(names)}", "named")
    assert named.exit_code == 0, named.output
    kept = json.loads((named_out / "report.json").read_text())["conversion"]["int8"]
    assert set(kept["float_layers"]) == set(int8["float_layers"]) | {"head (SOFTMAX)"}
    assert "converter_float_ops" not in int8 and "converter_float_ops" not in kept  # as asked
    assert "accuracy_control" not in kept


@pytest.mark.slow
@pytest.mark.parametrize(("layer", "message"), [
    ("nope", "float_layers names 'nope', which is not a layer of the model"),  # before work
    ("pixels", "float_layers names 'pixels', which no int8 op comes from")])  # at convert
def test_a_float_layer_without_an_op_is_one_line(write_recipe, tmp_path, outlier_model,
                                                 layer, message):
    result, out = build(write_recipe, tmp_path, outlier_model, f'float_layers = ["{layer}"]',
                        layer)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "conv2" in lines[0]
    assert not out.exists() or not (out / "model.tflite").exists()
