"""Runs anywhere: what a build needs installed is checked before any work, TensorFlow Lite
Micro (Linux x86-64 only) is optional where a recipe says runtime = "auto", and the CI
workflow we ship installs what its recipe needs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from prune2edge import build
from prune2edge.errors import DependencyError
from prune2edge.recipe import load_recipe
from prune2edge.requirements import TFLM
from prune2edge.stages import FineTune, Prune, Validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).parent
# prune2edge as on a machine where tflite-micro cannot be installed (macOS, ARM, Windows)
WITHOUT_TFLM = """
import sys
sys.modules["tflite_micro"] = None  # any import of it now fails
from prune2edge.cli import main
sys.argv = ["prune2edge", *sys.argv[1:]]
main()
"""
INT8 = """
[[stages]]
kind = "quantize"
samples = 20

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
runtime = "{runtime}"
"""
SUMMARIES = """
[[stages]]
kind = "prune"
schedule = { kind = "constant_sparsity", target_sparsity = 0.5 }

[[stages]]
kind = "finetune"
epochs = 1
pruning_summaries = true
"""


def without_tflm(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-c", WITHOUT_TFLM, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)


def test_stages_declare_what_they_need():
    def modules(stage):
        return {r.module for r in stage.requirements()}

    assert "tflite_micro" in modules(Validate(runtime="both"))
    assert "tflite_micro" in modules(Validate(runtime="tflm"))
    assert "tflite_micro" not in modules(Validate(runtime="auto")) | modules(Validate())
    assert "tensorflow_model_optimization" in modules(Prune()) & modules(FineTune())


def test_a_recipe_that_needs_tflm_is_refused_at_once_with_the_install_line(write_recipe,
                                                                          tmp_path):
    recipe = write_recipe(INT8.format(runtime="tflm"), model="tiny_models:cnn")
    out = tmp_path / "out"
    started = time.monotonic()
    done = without_tflm("build", recipe, "--out", out)
    assert time.monotonic() - started < 15  # no TensorFlow was even imported
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "error: tflite-micro is not installed (stage 3 (validate)): install it with pip install "
        "'prune2edge[micro]' (published for Linux x86-64 only), or set runtime = \"auto\" (now "
        "'tflm') to run it where installed")
    assert not out.exists()


def test_pruning_summaries_need_tensorboard_before_any_work(write_recipe, tmp_path,
                                                            monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as where it is not installed
    recipe = write_recipe(SUMMARIES)
    with pytest.raises(DependencyError) as info:
        build(recipe, tmp_path / "out")
    assert str(info.value) == (
        "TensorBoard is not installed (stage 2 (finetune)): install it with pip install "
        "'prune2edge[tensorboard]', or set pruning_summaries = false")
    assert not (tmp_path / "out").exists()


def test_validate_on_tflm_without_it_is_one_line(tiny_files):
    done = without_tflm("validate", tiny_files.files["int8_dense_int8_io"], "--runtime", "tflm")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: tflite-micro is not installed (--runtime tflm)")


@pytest.mark.slow
def test_runtime_auto_builds_without_tflm_and_says_it_was_skipped(write_recipe, tmp_path):
    recipe = write_recipe(INT8.format(runtime="auto"), model="tiny_models:cnn")
    out = tmp_path / "out"
    done = without_tflm("build", recipe, "--out", out)
    assert done.returncode == 0, done.stderr
    skipped = "TensorFlow Lite Micro skipped: tflite-micro is not installed"
    assert skipped in done.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["micro"]["skipped"].startswith(skipped)
    assert report["micro"]["flash"]["file_bytes"] == (out / "model.tflite").stat().st_size
    assert report["conversion"]["encoding"] == "dense"  # the same file with TFLM or without
    assert skipped in (out / "report.md").read_text()


def test_an_arena_budget_needs_tflm_before_any_work(write_recipe, tmp_path):
    recipe = write_recipe(INT8.format(runtime="auto"), model="tiny_models:cnn",
                          extra="[budgets]\nmax_arena_bytes = 100000\n")
    done = without_tflm("build", recipe, "--out", tmp_path / "out")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: tflite-micro is not installed "
                                          "(budgets.max_arena_bytes)")


def _distribution(requirement: str) -> str:
    return re.split(r"[\s\[<>=~!;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _installed_by(spec: str, project: dict) -> set[str]:
    """The distributions `pip install '<spec>'` of this project brings (its extras too)."""
    extras = re.search(r"\[([^\]]*)\]", spec)
    wanted = {e.strip() for e in extras.group(1).split(",")} if extras else set()
    found = {_distribution(r) for r in project["dependencies"]}
    optional = project["optional-dependencies"]
    while wanted:
        for requirement in optional[wanted.pop()]:
            name = _distribution(requirement)
            if name == "prune2edge":
                wanted |= set(re.search(r"\[([^\]]*)\]", requirement).group(1).split(","))
            else:
                found.add(name)
    return found


def test_the_ci_workflow_installs_what_its_recipe_needs():
    """The example workflow users copy must pass with exactly the install it shows: every
    module its recipe's stages and budgets need comes with that install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    provides = metadata.packages_distributions()
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    for workflow in workflows:
        text = workflow.read_text()
        installs = re.findall(r"pip install (?:-e )?[\"']?(\.\[[^\]]*\]|\.)[\"']?", text)
        recipes = re.findall(r"prune2edge build (\S+\.toml)", text)
        assert installs and recipes, workflow
        installed = set().union(*(_installed_by(spec, project) for spec in installs))
        for path in recipes:
            recipe = load_recipe(ROOT / path)
            for requirement, who in recipe.requirements():
                needed = {_distribution(d) for d in provides.get(requirement.module, [])}
                assert needed & installed, (f"{workflow.name}: {path} needs "
                                            f"{requirement.package} ({who})")


def test_a_device_the_machine_lacks_is_refused_before_any_work():
    from prune2edge.engine.distribute import DistributeSpec, strategy_for
    from prune2edge.errors import DependencyError

    with pytest.raises(DependencyError, match=r"this machine has no /gpu:7"):
        strategy_for(DistributeSpec(strategy="mirrored", devices=("/gpu:7",)))


def test_only_the_board_examples_need_tflite_micro():
    """Every bundled example but the two made for a board (runtime "both", an arena budget)
    builds with `pip install 'prune2edge[build]'` on any platform."""
    from prune2edge.recipe import bundled_recipes

    needing = {path.stem for path in bundled_recipes()
               if any(requirement.module == TFLM.module
                      for requirement, _ in load_recipe(path).requirements())}
    assert needing == {"ds_cnn_mnist", "vww_mobilenet"}
