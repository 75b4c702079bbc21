"""prune2edge's NumPy masks against tfmot's own: a tf_keras twin wrapped by
`prune_low_magnitude`, its step set, called in training mode; the same weights must give the
same masks, turn by turn, and the schedules the same pruning turns and sparsities."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge import _compat
from prune2edge.sparsity.masks import block_mask, keep_count, m_by_n_mask, magnitude_mask
from prune2edge.sparsity.schedules import ConstantSparsity, PolynomialDecay

SCHEDULES = [PolynomialDecay(initial_sparsity=0.1, final_sparsity=0.83, begin_step=3,
                             end_step=40, frequency=3, power=3),
             PolynomialDecay(final_sparsity=0.5, begin_step=0, end_step=17, frequency=1,
                             power=1.5),
             ConstantSparsity(target_sparsity=0.62, begin_step=5, end_step=-1, frequency=4)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.kind)
def test_schedules_prune_on_tfmots_turns_at_tfmots_sparsity(schedule):
    theirs = schedule.to_tfmot(_compat.tfmot_sparsity())
    for step in range(0, 50):
        turn, sparsity = theirs(step)
        assert schedule.prunes_at(step) == bool(turn), step
        assert schedule.sparsity_at(step) == np.float32(sparsity), step


def tfmot_masks(weights, layer, schedule, steps, **pruning):
    """The mask tfmot's wrapper holds after a training call at each of `steps`, the kernel set
    to `weights[i]` before it."""
    keras, sparsity = _compat.keras(), _compat.tfmot_sparsity()
    wrapped = sparsity.prune_low_magnitude(layer, pruning_schedule=schedule.to_tfmot(sparsity),
                                           **pruning)
    inputs = np.zeros((1, weights[0].shape[0]) if weights[0].ndim == 2
                      else (1, 6, 6, weights[0].shape[2]), "float32")
    wrapped(inputs)  # built
    kernel, mask, _ = wrapped.pruning_vars[0]
    masks = []
    for step, values in zip(steps, weights, strict=True):
        kernel.assign(values)
        wrapped.pruning_step.assign(step - 1)  # the call counts this step
        wrapped(inputs, training=True)
        masks.append(mask.numpy())
    keras.backend.clear_session()
    return masks


def ours(weights, schedule, steps, rule):
    """prune2edge's masks for the same weights at the same turns (a mask holds between turns)."""
    masks, mask = [], np.ones_like(weights[0])
    for step, values in zip(steps, weights, strict=True):
        if schedule.prunes_at(step):
            mask = rule(values, schedule.sparsity_at(step))
        masks.append(mask)
    return masks


def random_weights(shape, count, ties=False):
    rng = np.random.default_rng(7)
    weights = [rng.normal(size=shape).astype("float32") for _ in range(count)]
    return [np.round(w * 4) / 4 for w in weights] if ties else weights


STEPS = list(range(1, 44, 2))


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("schedule", SCHEDULES[:1] + SCHEDULES[2:], ids=lambda s: s.kind)
def test_magnitude_masks_equal_tfmots(schedule, ties):
    keras = _compat.keras()
    for layer, shape in ((keras.layers.Dense(23), (37, 23)),
                         (keras.layers.Conv2D(7, 3), (3, 3, 5, 7))):
        weights = random_weights(shape, len(STEPS), ties)
        theirs = tfmot_masks(weights, layer, schedule, STEPS)
        for step, a, b in zip(STEPS, ours(weights, schedule, STEPS, magnitude_mask), theirs,
                              strict=True):
            assert np.array_equal(a, b), (layer.name, step)


@pytest.mark.parametrize("block", [(1, 4), (4, 1), (2, 3), (5, 4)])
@pytest.mark.parametrize("pooling", ["AVG", "MAX"])
def test_block_masks_equal_tfmots(block, pooling):
    """Odd shapes: the last blocks are partial (and with windows of 5, TensorFlow's SAME
    padding starts before the first row)."""
    keras, schedule = _compat.keras(), SCHEDULES[0]
    weights = random_weights((37, 23), len(STEPS))
    theirs = tfmot_masks(weights, keras.layers.Dense(23), schedule, STEPS, block_size=block,
                         block_pooling_type=pooling)
    mine = ours(weights, schedule, STEPS, lambda w, s: block_mask(w, s, block, pooling))
    for step, a, b in zip(STEPS, mine, theirs, strict=True):
        assert np.array_equal(a, b), step


@pytest.mark.parametrize(("m", "n"), [(2, 4), (1, 3)])
def test_m_by_n_masks_equal_tfmots(m, n):
    keras = _compat.keras()
    schedule = ConstantSparsity(target_sparsity=m / n, begin_step=0, frequency=1)
    for layer, shape in ((keras.layers.Dense(6), (10, 6)),
                         (keras.layers.Conv2D(5, 3), (3, 3, 7, 5))):
        weights = random_weights(shape, 1, ties=True)
        theirs = tfmot_masks(weights, layer, schedule, [1], sparsity_m_by_n=(m, n))
        assert np.array_equal(m_by_n_mask(weights[0], m, n), theirs[0]), layer.name


def test_the_rules_at_their_edges():
    assert keep_count(10, 0.95) == 1  # never an all-zero mask
    assert keep_count(5, 0.5) == 2  # round half to even, as TensorFlow rounds
    assert magnitude_mask(np.array([3.0, -3.0, 1.0, 2.0], "float32"), 0.5).tolist() == \
        [1, 1, 0, 0]
    assert magnitude_mask(np.array([1.0, 1.0, 1.0], "float32"), 0.9).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="block sparsity needs 2-D weights"):
        block_mask(np.ones((3, 3, 2, 2), "float32"), 0.5, (2, 2))
    with pytest.raises(ValueError, match="resolve"):
        PolynomialDecay(end_step="70%").prunes_at(3)
