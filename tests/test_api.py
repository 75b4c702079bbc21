"""The Python API: pipelines composed in code, and build() on a Recipe object."""

from __future__ import annotations

import dataclasses

import pytest

import prune2edge
from prune2edge import (
    ConstantSparsity,
    Convert,
    FineTune,
    Pipeline,
    Prune,
    Quantize,
    Strip,
    Validate,
)


@pytest.mark.slow
def test_pipeline_composed_in_code_runs_on_objects(make_ctx, tmp_path):
    ctx = make_ctx()
    pipeline = Pipeline([Prune(schedule=ConstantSparsity(target_sparsity=0.5, frequency=5)),
                         FineTune(epochs=1), Strip(), Quantize(mode="dynamic"), Convert(),
                         Validate(runs=3, warmup=0)])
    report = pipeline.run(ctx.model, ctx.setup.data, out=tmp_path / "out", name="in-code")
    assert report.out_dir == tmp_path / "out"
    assert report.name == "in-code" and report.status == "ok"
    assert report.conversion["quantization"]["mode"] == "dynamic"
    assert report.sizes["final"]["bytes"] < report.sizes["baseline"]["bytes"]
    assert (tmp_path / "out" / "model.tflite").is_file()
    assert report.model["source"] == "<Sequential tiny_mlp>"


def test_pipeline_order_is_checked_at_construction():
    with pytest.raises(prune2edge.RecipeError) as info:
        Pipeline([Strip(), Convert()])
    assert str(info.value) == ("strip needs pruning or clustering wrappers on the model "
                               "(stage 1 (strip)): add a prune stage before it")


def test_slicing():
    pipeline = Pipeline([Prune(), FineTune(), Strip(), Convert(), Validate()])
    assert [s.kind for s in pipeline.until("strip")] == ["prune", "finetune", "strip"]
    assert [s.kind for s in pipeline.only(["convert"])] == ["convert"]
    with pytest.raises(prune2edge.RecipeError) as info:
        pipeline.until("train")
    assert info.value.what == "--until train: the pipeline has no train stage"


@pytest.mark.slow
def test_build_from_a_recipe_object(write_recipe, tmp_path):
    recipe = prune2edge.load_recipe(write_recipe("[[stages]]\nkind = \"convert\"\n"))
    recipe = dataclasses.replace(recipe, name="renamed")
    report = prune2edge.build(recipe, out=tmp_path / "out")
    assert report.name == "renamed"
    assert report.recipe["stages"] == [{"kind": "convert", "sparse": "auto", "strip_names": False,
                                       "layer_errors": True}]
