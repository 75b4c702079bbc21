"""Recipe files: the public format, every mistake as one located RecipeError, overrides."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from prune2edge.errors import DataError, ModelError, RecipeError
from prune2edge.recipe import apply_overrides, bundled_recipes, load_recipe
from prune2edge.sparsity.schedules import PolynomialDecay
from prune2edge.stages import FineTune, Prune


def test_bundled_recipes_load():
    names = {p.stem for p in bundled_recipes()}
    assert {"seed_mlp", "mnist_mlp", "mnist_cnn"} <= names
    for path in bundled_recipes():
        recipe = load_recipe(path)
        assert recipe.stages and recipe.version == 1


def test_seed_mlp_is_the_classic_tfmot_example():
    recipe = load_recipe("seed_mlp")  # a bundled recipe by name
    baseline, prune, finetune = recipe.stages[:3]
    assert prune == Prune(schedule=PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=1000, power=1.0),
        block_size=(1, 1), block_pooling_type="AVG")
    assert (finetune.epochs, finetune.optimizer) == (10, "adam")
    # the report's reference: a dense copy trained the same way, not the untrained input
    assert (baseline.kind, baseline.epochs, baseline.optimizer) == ("baseline", 10, "adam")


def test_recipe_check_imports_no_tensorflow():
    code = ("import sys, prune2edge; prune2edge.load_recipe('mnist_cnn'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tf_keras', 'tensorflow_model_optimization', 'ai_edge_litert')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _recipe(tmp_path, text):
    path = tmp_path / "r.toml"
    path.write_text(textwrap.dedent(text))
    return path


HEAD = """
version = 1
[model]
source = "pkg:factory"
[data]
source = "builtin:mnist"
"""


@pytest.mark.parametrize(("text", "error", "what", "fix"), [
    ("version = 1\n[model\n", RecipeError, "not valid TOML", "fix the syntax"),
    ("version = 2\n" + HEAD.replace("version = 1", ""), RecipeError,
     "unsupported recipe version = 2", "version = 1"),
    (HEAD.replace("version = 1", ""), RecipeError, "unsupported recipe no version", "version = 1"),
    ("version = 1\n[data]\nsource = 'builtin:mnist'\n", RecipeError, "missing [model] table",
     "add [model]"),
    ("version = 1\n[model]\nsource = 'a:b'\n", RecipeError, "missing [data] table", "add [data]"),
    (HEAD, RecipeError, "the pipeline has no stages", "add [[stages]]"),
    (HEAD + "[[stages]]\nkind = 'prun'\n", RecipeError, "unknown stage kind 'prun'",
     "did you mean 'prune'?"),
    (HEAD + "[[stages]]\nkind = 'finetune'\nepoch = 3\n", RecipeError, "unknown key 'epoch'",
     "did you mean 'epochs'?"),
    (HEAD + "[[stages]]\nkind = 'finetune'\nepochs = 'three'\n", RecipeError,
     "expected an integer, got a string ('three')", "write a value like 10"),
    (HEAD + "[[stages]]\nkind = 'prune'\nschedule = { kind = 'constant_sparsity', "
     "target_sparsity = 1.2 }\n", RecipeError, "target_sparsity must be in [0, 1), got 1.2",
     "e.g. 0.8"),
    (HEAD + "[[stages]]\nkind = 'prune'\nschedule = { kind = 'polynomial_decay', "
     "begin_step = 500, end_step = 100 }\n", RecipeError,
     "end_step (100) must be after begin_step (500)", "set end_step > 500"),
    (HEAD + "[[stages]]\nkind = 'strip'\n", RecipeError,
     "strip needs pruning or clustering wrappers",
     "add a prune stage before it"),
    (HEAD + "[[stages]]\nkind = 'validate'\n", RecipeError, "validate needs a converted .tflite",
     "add a convert stage before it"),
    (HEAD + "[[stages]]\nkind = 'prune'\n[[stages]]\nkind = 'finetune'\n"
     "[[stages]]\nkind = 'convert'\n", RecipeError, "convert cannot come after prune",
     "add a strip stage before convert"),
    (HEAD + "[[stages]]\nkind = 'prune'\nschedule = { kind = 'constant_sparsity' }\n"
     "[[stages]]\nkind = 'strip'\n", RecipeError,
     "strip needs fine-tuning after prune", "add a finetune stage before it"),
    (HEAD + "[[stages]]\nkind = 'convert'\n[[stages]]\nkind = 'quantize'\n", RecipeError,
     "quantize cannot come after convert", "move quantize before convert"),
    (HEAD + "[[stages]]\nkind = 'prune'\n[[stages]]\nkind = 'finetune'\n[[stages]]\n"
     "kind = 'strip'\n[[stages]]\nkind = 'train'\n", RecipeError,
     "train cannot come after prune", "would undo the pruning"),
    (HEAD + "[[stages]]\nkind = 'prune'\nschedule = { kind = 'polynomial_decay', "
     "end_step = '50%' }\n", RecipeError, "end_step '50%' is a share of the fine-tune steps",
     "add a finetune stage after prune"),
    (HEAD + "extra = 1\n", RecipeError, "unknown key 'extra'", "allowed keys"),
    (HEAD + "scale = 'big'\n[[stages]]\nkind='convert'\n", RecipeError,
     "expected a number or one of 'auto', 'none', got a string ('big')", "write a value"),
    (HEAD.replace("[data]", "safe_mode = 'yes'\n[data]") + "[[stages]]\nkind='convert'\n",
     RecipeError, "expected true or false, got a string ('yes')", "write a value like true"),
    (HEAD.replace("builtin:mnist", "builtin:cifar") + "[[stages]]\nkind='convert'\n", DataError,
     "unknown bundled dataset 'cifar'", "builtin:mnist"),
    (HEAD.replace("builtin:mnist", "nope.npz") + "[[stages]]\nkind='convert'\n", DataError,
     "data file not found", "give an .npz, an image folder or TFRecord files"),
    (HEAD.replace("pkg:factory", "missing.keras") + "[[stages]]\nkind='convert'\n", ModelError,
     "model file not found", "module:function factory"),
])
def test_recipe_errors_name_the_place_and_the_fix(tmp_path, text, error, what, fix):
    path = _recipe(tmp_path, text)
    with pytest.raises(error) as info:
        load_recipe(path)
    assert info.value.what.startswith(what)
    assert fix in info.value.fix
    assert str(path) in info.value.where


def test_error_location_names_the_stage(tmp_path):
    path = _recipe(tmp_path, HEAD + "[[stages]]\nkind = 'convert'\n[[stages]]\n"
                   "kind = 'validate'\nruns = 0\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.where == f"{path}: stage 2 (validate): runs"


def test_missing_recipe_lists_the_bundled_ones():
    with pytest.raises(RecipeError) as info:
        load_recipe("no_such_recipe")
    assert info.value.what == "recipe file not found"
    assert "mnist_cnn" in info.value.fix


def test_overrides_by_kind_by_position_and_nested():
    recipe = load_recipe("mnist_cnn", ["stages.finetune.epochs=1", "stages.1.epochs=2",
                                       "stages.prune.schedule.final_sparsity=0.9", "seed=7",
                                       "stages.quantize.mode=dynamic"])
    kinds = {s.kind: s for s in recipe.stages}
    assert kinds["finetune"] == FineTune(epochs=1, learning_rate=0.0005)
    assert kinds["train"].epochs == 2
    assert kinds["prune"].schedule.final_sparsity == 0.9
    assert kinds["quantize"].mode == "dynamic"  # a bare word is a string
    assert recipe.seed == 7
    assert recipe.overrides[0] == "stages.finetune.epochs=1"


@pytest.mark.parametrize(("override", "what"), [
    ("stages.finetune.epochs", "an override needs the form KEY=VALUE"),
    ("stages.finetune=3", "name a stage and a key"),
    ("stages.9.epochs=1", "there is no stage 9"),
    ("stages.structural.ratio=1", "the recipe has no structural stage"),
    ("stagse.finetune.epochs=1", "unknown key 'stagse'"),
    ("stages.finetune.epochs=zero", "expected an integer, got a string ('zero')"),
])
def test_bad_overrides(override, what):
    with pytest.raises(RecipeError) as info:
        load_recipe("mnist_cnn", [override])
    assert info.value.what == what


def test_ambiguous_kind_override_asks_for_a_position():
    doc = {"stages": [{"kind": "finetune"}, {"kind": "finetune"}]}
    with pytest.raises(RecipeError) as info:
        apply_overrides(doc, ["stages.finetune.epochs=1"])
    assert "2 finetune stages" in info.value.what
    assert doc["stages"][0] == {"kind": "finetune"}  # the input document is not modified
