"""Plain data -> dataclasses: keys, types and nested tagged tables."""

from __future__ import annotations

import pytest

from prune2edge.errors import RecipeError
from prune2edge.params import from_mapping, to_mapping
from prune2edge.sparsity.schedules import ConstantSparsity, PolynomialDecay
from prune2edge.stages import Prune, Quantize, Validate


def test_defaults_and_types():
    stage = from_mapping(Prune, {"block_size": [1, 4], "layers": ["dense"]}, "here")
    assert stage.block_size == (1, 4)
    assert stage.layers == ("dense",)
    assert isinstance(stage.schedule, PolynomialDecay)


def test_ints_are_accepted_where_floats_are_expected():
    schedule = from_mapping(PolynomialDecay, {"final_sparsity": 0, "power": 1}, "s")
    assert schedule.power == 1.0 and isinstance(schedule.power, float)


def test_tagged_union_dispatches_on_kind():
    stage = from_mapping(Prune, {"schedule": {"kind": "constant_sparsity",
                                              "target_sparsity": 0.7}}, "p")
    assert stage.schedule == ConstantSparsity(target_sparsity=0.7)


def test_misspelt_key_suggests_the_nearest():
    with pytest.raises(RecipeError) as info:
        from_mapping(Validate, {"treads": 2}, "stage 8 (validate)")
    assert info.value.what == "unknown key 'treads'"
    assert info.value.where == "stage 8 (validate)"
    assert "did you mean 'threads'?" in info.value.fix


@pytest.mark.parametrize(("params", "message"), [
    ({"samples": "many"}, "expected an integer, got a string ('many')"),
    ({"samples": True}, "expected an integer, got a boolean (True)"),
    ({"mode": "int4"}, "'int4' is not allowed"),
])
def test_wrong_types_name_the_key(params, message):
    with pytest.raises(RecipeError) as info:
        from_mapping(Quantize, params, "q")
    assert info.value.what == message
    assert info.value.where == f"q.{next(iter(params))}"


def test_literal_suggests_a_close_choice():
    with pytest.raises(RecipeError) as info:
        from_mapping(Quantize, {"mode": "in8"}, "q")
    assert "did you mean 'int8'?" in info.value.fix


def test_tuple_length_is_checked():
    with pytest.raises(RecipeError) as info:
        from_mapping(Prune, {"block_size": [1, 2, 3]}, "p")
    assert "expected a list of 2 values" in info.value.what


def test_unknown_schedule_kind():
    with pytest.raises(RecipeError) as info:
        from_mapping(Prune, {"schedule": {"kind": "polynomial"}}, "p")
    assert info.value.what == "unknown kind 'polynomial'"
    assert "polynomial_decay" in info.value.fix


def test_value_checks_are_located():
    with pytest.raises(RecipeError) as info:
        from_mapping(Prune, {"schedule": {"kind": "polynomial_decay", "final_sparsity": 1.5}}, "p")
    assert info.value.what == "final_sparsity must be in [0, 1), got 1.5"
    assert info.value.where == "p.schedule: final_sparsity"


def test_round_trip_through_plain_data():
    stage = from_mapping(Prune, {"schedule": {"kind": "constant_sparsity"}, "exclude": ["a"]}, "p")
    assert from_mapping(Prune, {k: v for k, v in to_mapping(stage).items() if k != "kind"},
                        "p") == stage
