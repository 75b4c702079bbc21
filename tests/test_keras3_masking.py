"""The Keras 3 engine's magnitude pruning against tfmot's, like for like: a Keras 3 model and
its tf_keras twin (the same weights) fine-tuned on the same batches with the same schedule
give the same masks; masks hold on subclassed models; the pruned weights are tfmot's."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge import _compat
from prune2edge.keras3.masking import Masks, Rule, hold, layers_with_weights, pruned_variables
from prune2edge.sparsity.schedules import ConstantSparsity, PolynomialDecay

SCHEDULE = PolynomialDecay(initial_sparsity=0.0, final_sparsity=0.7, begin_step=0,
                           end_step=30, frequency=5)


def twins():
    """A Keras 3 MLP and the same model, weights included, in tf_keras."""
    keras3, keras2 = _compat.keras3(), _compat.keras()
    keras3.utils.set_random_seed(0)
    new = keras3.Sequential([keras3.Input((28, 28)), keras3.layers.Flatten(),
                             keras3.layers.Dense(24, activation="relu", name="hidden"),
                             keras3.layers.Dense(10, name="logits")], name="twin")
    old = keras2.Sequential([keras2.Input((28, 28)), keras2.layers.Flatten(),
                             keras2.layers.Dense(24, activation="relu"),
                             keras2.layers.Dense(10)])
    old.set_weights(new.get_weights())
    return new, old


def fit(keras, model, arrays, callbacks, epochs=2):
    model.compile(optimizer=keras.optimizers.SGD(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = (arrays["x_train"] / 255.0).astype("float32")
    model.fit(x, arrays["y_train"], batch_size=32, epochs=epochs, shuffle=False, verbose=0,
              callbacks=callbacks)


@pytest.mark.slow
@pytest.mark.parametrize(("rule", "options"), [
    (Rule(SCHEDULE), {}),
    (Rule(SCHEDULE, block_size=(4, 1), block_pooling_type="MAX"),
     {"block_size": (4, 1), "block_pooling_type": "MAX"}),
    (Rule(ConstantSparsity(target_sparsity=0.5, frequency=1), sparsity_m_by_n=(2, 4)),
     {"sparsity_m_by_n": (2, 4)}),
], ids=["polynomial", "blocks", "2-by-4"])
def test_fine_tuned_masks_equal_tfmots_on_a_tf_keras_twin(tiny_arrays, rule, options):
    new, old = twins()
    keras3, sparsity = _compat.keras3(), _compat.tfmot_sparsity()
    kernels = [v for layer in layers_with_weights(new) for v in pruned_variables(layer)]
    masks = Masks(kernels, rule)
    fit(keras3, new, tiny_arrays, [hold(masks)])

    schedule = rule.schedule.to_tfmot(sparsity)
    wrapped = sparsity.prune_low_magnitude(old, pruning_schedule=schedule, **options)
    fit(_compat.keras(), wrapped, tiny_arrays, [sparsity.UpdatePruningStep()])
    theirs = [mask.numpy() for layer in wrapped.layers if hasattr(layer, "pruning_vars")
              for _, mask, _ in layer.pruning_vars]
    assert masks.step == 40  # 20 batches, two epochs
    assert [m.shape for m in masks.masks.values()] == [(784, 24), (24, 10)]
    for ours, tfmot in zip(masks.masks.values(), theirs, strict=True):
        assert np.array_equal(ours, tfmot)
    for variable, mask in zip(kernels, masks.masks.values(), strict=True):
        assert not np.any(variable.numpy()[mask == 0])  # the zeros are in the weights
    assert masks.sparsity()["twin/hidden/kernel"] == pytest.approx(
        0.5 if rule.sparsity_m_by_n else 0.7, abs=0.01)


def test_a_subclassed_model_is_pruned_as_it_is(tiny_arrays):
    keras = _compat.keras3()

    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(8, 3)
            self.norm = keras.layers.BatchNormalization()

        def call(self, x):
            return keras.ops.relu(self.norm(self.conv(x)))

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = keras.layers.Dense(10)

        def call(self, x):
            return self.head(keras.ops.mean(self.block(x[..., None]), axis=(1, 2)))

    keras.utils.set_random_seed(0)
    net = Net()
    net(np.zeros((1, 28, 28), "float32"))
    found = {layer.name: pruned_variables(layer) for layer in layers_with_weights(net)}
    assert [type(layer).__name__ for layer in layers_with_weights(net)] == \
        ["Conv2D", "BatchNormalization", "Dense"]
    assert found[net.block.norm.name] is None  # tfmot prunes no BatchNormalization
    masks = Masks([v for vs in found.values() if vs for v in vs],
                  Rule(ConstantSparsity(target_sparsity=0.6, frequency=4)))
    fit(keras, net, tiny_arrays, [hold(masks)], epochs=1)
    for variable in (net.block.conv.kernel, net.head.kernel):
        assert np.mean(variable.numpy() == 0) == pytest.approx(0.6, abs=0.01)


def test_the_pruned_weights_are_tfmots():
    """Each layer type's pruned weights are the ones tfmot prunes in the tf_keras twin."""
    from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import (
        PruneRegistry,
    )

    keras3, keras2 = _compat.keras3(), _compat.keras()
    image, sequence = (6, 6, 2), (3, 2)
    layers = {"Dense": ((4,), (3,)), "Embedding": ((10, 3), (4,)),
              "Conv2D": ((4, 3), image), "SeparableConv2D": ((4, 3), image),
              "Conv2DTranspose": ((4, 3), image), "DepthwiseConv2D": ((3,), image),
              "LSTM": ((3,), sequence), "GRU": ((3,), sequence), "SimpleRNN": ((3,), sequence)}
    for name, (args, shape) in layers.items():
        new, old = (getattr(k.layers, name)(*args) for k in (keras3, keras2))
        for layer in (new, old):
            layer.build((None, *shape))
        ours = sorted(v.name for v in pruned_variables(new) or [])
        theirs = (sorted(v.name.split("/")[-1].split(":")[0] for v in
                         PruneRegistry.make_prunable(old).get_prunable_weights())
                  if PruneRegistry.supports(old) else [])
        assert ours == theirs, name
