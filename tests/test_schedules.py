"""Pruning schedules: checks, share-of-fine-tune end steps, and tfmot equivalence."""

from __future__ import annotations

import pytest

from prune2edge.errors import RecipeError
from prune2edge.sparsity.schedules import ConstantSparsity, PolynomialDecay


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"final_sparsity": 1.0}, "final_sparsity must be in [0, 1), got 1.0"),
    ({"initial_sparsity": -0.1}, "initial_sparsity must be in [0, 1), got -0.1"),
    ({"initial_sparsity": 0.6, "final_sparsity": 0.5}, "initial_sparsity (0.6) is above"),
    ({"begin_step": 100, "end_step": 100}, "end_step (100) must be after begin_step (100)"),
    ({"begin_step": -1}, "begin_step must be >= 0"),
    ({"frequency": 0}, "frequency must be > 0"),
    ({"power": 0}, "power must be > 0"),
    ({"end_step": "70"}, "end_step '70' is not a share"),
    ({"end_step": "150%"}, "end_step '150%' is not a share"),
])
def test_polynomial_decay_checks(kwargs, message):
    with pytest.raises(RecipeError) as info:
        PolynomialDecay(**kwargs)
    assert info.value.what.startswith(message)


def test_constant_sparsity_may_prune_forever_or_once():
    assert ConstantSparsity(target_sparsity=0.5, end_step=-1).end_step == -1
    with pytest.raises(RecipeError):
        PolynomialDecay(end_step=-1)
    once = ConstantSparsity(target_sparsity=0.5, begin_step=1, end_step=1, frequency=1)
    assert [step for step in range(5) if once.prunes_at(step)] == [1]
    with pytest.raises(RecipeError) as info:
        ConstantSparsity(begin_step=2, end_step=1)
    assert info.value.what == "end_step (1) must not be before begin_step (2)"


def test_share_resolves_to_a_pruning_turn():
    schedule = PolynomialDecay(end_step="70%", frequency=100)
    resolved = schedule.resolve(2250)  # 70% is 1575 -> last turn at 1500
    assert resolved.end_step == 1500
    assert PolynomialDecay(begin_step=50, end_step="100%", frequency=100).resolve(1000).end_step \
        == 950


def test_step_counts_are_left_alone():
    schedule = PolynomialDecay(end_step=1000)
    assert schedule.resolve(10) is schedule


def test_share_too_small_for_a_turn_is_an_error():
    with pytest.raises(RecipeError) as info:
        PolynomialDecay(end_step="10%", frequency=100).resolve(500)
    assert "leaves no pruning turn" in info.value.what


def test_matches_tfmot_schedule():
    from prune2edge import _compat

    sparsity = _compat.tfmot_sparsity()
    ours = PolynomialDecay(initial_sparsity=0.1, final_sparsity=0.8, begin_step=0,
                           end_step=1000, power=2.0, frequency=10).to_tfmot(sparsity)
    theirs = sparsity.PolynomialDecay(0.1, 0.8, 0, 1000, power=2.0, frequency=10)
    for step in (0, 10, 500, 1000, 1200):
        assert bool(ours(step)[0]) == bool(theirs(step)[0])
        assert float(ours(step)[1]) == pytest.approx(float(theirs(step)[1]))


def test_with_target_moves_the_end_and_keeps_the_start_below_it():
    decay = PolynomialDecay(initial_sparsity=0.6, final_sparsity=0.8, end_step=100)
    assert decay.with_target(0.9) == PolynomialDecay(initial_sparsity=0.6, final_sparsity=0.9,
                                                     end_step=100)
    assert decay.with_target(0.5).initial_sparsity == 0.5  # never above the final
    assert ConstantSparsity(target_sparsity=0.5).with_target(0.75).target == 0.75
