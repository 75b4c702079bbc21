"""Optimal Brain Surgeon on Keras 3 models as they are: each layer's inputs are watched while
the model runs, so a subclassed model's layers and a nested model's are reached too. Like for
like, a Keras 3 graph is pruned and reconstructed as its tf_keras translation is."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge.keras.from_keras3 import translate_model
from prune2edge.keras.reconstruct import layer_inputs, prune_layers

keras = pytest.importorskip("keras")
keras3_models = pytest.importorskip("keras3_models")
X = np.random.default_rng(0).uniform(0, 1, (64, 28, 28)).astype(np.float32)


def test_a_graph_is_pruned_and_reconstructed_as_its_translation():
    keras.utils.set_random_seed(0)
    model = keras3_models.functional()
    twin, _ = translate_model(model)
    names = [layer.name for layer in model.layers if layer.weights]  # conv, dense, head
    rows = [prune_layers(m, [m.get_layer(n) for n in names], X, 0.5, 0.01)
            for m in (model, twin)]
    for mine, theirs in zip(*rows, strict=True):
        assert mine["layer"] == theirs["layer"] and mine["sparsity"] == theirs["sparsity"]
        assert mine["output_error"] == pytest.approx(theirs["output_error"], rel=1e-3)
        assert mine["output_error"] < mine["magnitude_output_error"]
    for name in names:
        mine, theirs = (m.get_layer(name).kernel.numpy() for m in (model, twin))
        assert np.array_equal(mine == 0, theirs == 0), name
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_inputs_reach_a_subclassed_models_layers_and_a_nested_models():
    model = keras3_models.subclassed()
    seen = layer_inputs(model, model.hidden, X[:10])
    expected = model.flat(model.conv(X[:10, ..., None]))
    np.testing.assert_allclose(seen, np.asarray(expected), atol=1e-6)
    assert "call" not in vars(model.hidden)  # the layer is as it was
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(3, name="b")], name="block")
    inputs = keras.Input((6,))
    outer = keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))
    x = np.ones((5, 6), np.float32)
    np.testing.assert_allclose(layer_inputs(outer, inner.get_layer("b"), x),
                               np.asarray(inner.get_layer("a")(x)), atol=1e-6)
