"""`prune2edge tune`: the [tune] table, the validation split, and a whole search on a tiny
model whose winner `prune2edge build tuned.toml` reproduces byte for byte."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import made_once
from prune2edge import build, load_recipe
from prune2edge.data import Dataset
from prune2edge.errors import BudgetError, RecipeError
from prune2edge.progress import Reporter, Task
from prune2edge.recipe.tuning import TuneSpec
from prune2edge.tune import tune
from prune2edge.tune.measure import LatencyModel, carve_validation
from prune2edge.tune.output import figure, pareto_frontier, tuned_document

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PNG = b"\x89PNG\r\n\x1a\n"
STAGES = """
[[stages]]
kind = "train"
epochs = 1

[[stages]]
kind = "structural"
criterion = "l1"
ratio = 0.0
min_width = 2

[[stages]]
kind = "finetune"
epochs = 1

[[stages]]
kind = "quantize"
mode = "int8"
samples = 20

[[stages]]
kind = "convert"
sparse = "off"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
min_agreement = 0.9
"""
TUNE = """
[budgets]
max_accuracy_drop = 5.0

[tune]
objective = "{objective}"
ratios = [0.5, 0.75]
max_trials = 4
finalists = 2
screen_drop = 20.0
"""


@pytest.mark.parametrize(("table", "message"), [
    ({"ratios": [0.5, 0.25]}, "ratios must rise"),
    ({"ratios": [0.5, 1.0]}, "ratios must rise"),
    ({"max_trials": 0}, "max_trials must be >= 1"),
    ({"validation_share": 0.6}, "validation_share must be in"),
    ({"time_budget": 0}, "time_budget must be > 0"),
    ({"trial_epochs": 0}, "trial_epochs must be >= 1"),
    ({"objective": "size", "sparsities": [0.9, 0.5]}, "sparsities must rise"),
    ({"objective": "size", "sparsities": [0.5, 1.0]}, "sparsities must rise"),
    ({"objective": "size", "clusters": [8, 16]}, "clusters must fall"),
    ({"objective": "size", "clusters": [300, 16]}, "clusters must fall strictly within"),
    ({"clusters": [16, 8]}, "for the size objective only"),
])
def test_tune_table_errors(table, message):
    with pytest.raises(RecipeError, match=message):
        TuneSpec(**table)


def test_tune_needs_a_structural_stage_and_a_budget(write_recipe, standard_stages):
    from prune2edge.tune.search import template_of
    with pytest.raises(RecipeError, match="one structural stage"):
        template_of(load_recipe(write_recipe(standard_stages)))
    recipe = load_recipe(write_recipe(STAGES, model="tiny_models:cnn"))
    with pytest.raises(RecipeError, match="tune needs an accuracy budget"):
        template_of(recipe)
    with pytest.raises(RecipeError, match="unknown key 'objectiv'"):
        load_recipe(write_recipe(STAGES, extra="[tune]\nobjectiv = 'latency'\n"))


SIZE_STAGES = STAGES.replace('[[stages]]\nkind = "quantize"', """[[stages]]
kind = "prune"
schedule = { kind = "constant_sparsity", target_sparsity = 0.5 }

[[stages]]
kind = "finetune"
epochs = 3

[[stages]]
kind = "strip"

[[stages]]
kind = "cluster"
number_of_clusters = 8

[[stages]]
kind = "finetune"
epochs = 1

[[stages]]
kind = "strip"

[[stages]]
kind = "quantize\"""")
COMPRESSION = "sparsities = [0.5, 0.75]\nclusters = [8, 4]\n"


def test_finalists_run_the_recipes_stages_after_the_structural_one(write_recipe):
    from prune2edge.tune.search import format_stages, probe_stages
    size = SIZE_STAGES + TUNE.format(objective="size")
    probe = probe_stages(load_recipe(write_recipe(size, model="tiny_models:cnn"),
                                     ["tune.trial_epochs=2"]))
    assert [s.kind for s in probe] == ["finetune", "prune", "finetune", "strip", "cluster",
                                       "finetune", "strip", "quantize", "convert"]
    assert [s.epochs for s in probe if s.kind == "finetune"] == [1, 2, 1]  # capped at 2
    assert [s.kind for s in format_stages(probe)] == ["quantize", "convert"]
    assert probe[-1].strip_names  # the size objective strips the names
    uncapped = probe_stages(load_recipe(write_recipe(size, model="tiny_models:cnn")))
    assert [s.epochs for s in uncapped if s.kind == "finetune"] == [1, 3, 1]
    no_convert = STAGES[:STAGES.index('[[stages]]\nkind = "convert"')]
    recipe = load_recipe(write_recipe(no_convert + TUNE.format(objective="size"),
                                      model="tiny_models:cnn"))
    with pytest.raises(RecipeError, match="no convert stage follows the structural one"):
        probe_stages(recipe)


def test_the_arena_objective_needs_tflite_micro_before_any_work(write_recipe):
    from prune2edge.tune.run import requirements
    arena = load_recipe(write_recipe(STAGES + TUNE.format(objective="arena"),
                                     model="tiny_models:cnn"))
    assert ("tflite_micro", "tune.objective") in [(r.module, where)
                                                  for r, where in requirements(arena)]
    latency = load_recipe(write_recipe(STAGES + TUNE.format(objective="latency"),
                                       model="tiny_models:cnn"))
    assert all(r.module != "tflite_micro" for r, _ in requirements(latency))


def test_a_probe_converts_dense_when_the_build_runs_its_file_on_tflm(write_recipe):
    from prune2edge.tune.search import probe_stages
    auto = STAGES.replace('sparse = "off"', 'sparse = "auto"') + TUNE.format(objective="arena")
    micro = probe_stages(load_recipe(write_recipe(auto, model="tiny_models:cnn"),
                                     ["stages.validate.runtime=auto"]))
    assert micro[-1].sparse == "off"  # the build's convert keeps the dense file for TFLM
    litert = probe_stages(load_recipe(write_recipe(auto, model="tiny_models:cnn")))
    assert litert[-1].sparse == "auto"


def test_a_memory_budget_is_a_constraint_with_a_distance():
    from prune2edge.tune.findings import Search
    from prune2edge.tune.fitting import Footprint, MemoryBudget, unmet
    budget = MemoryBudget(max_arena_bytes=1000, max_flash_bytes=4000)
    assert budget.active and not MemoryBudget().active
    assert budget.fits(1000, 4000) and not budget.fits(1001, 10) and not budget.fits(None, 10)
    assert budget.excess(900, 3000) == 0 and budget.excess(1500, 5000) == pytest.approx(0.75)
    assert MemoryBudget(max_flash_bytes=10).fits(10**9, 10)  # no arena limit
    reached = [("dense", Footprint(3000, 9000, "CONV_2D a (op 0)", 3008, 3000)),
               ("conv 50%", Footprint(1500, 5000, "CONV_2D b (op 2)", 1504, 1500))]
    error = unmet(budget, reached)
    assert error.exit_code == 3 and "\n" not in str(error)
    flash_only = Search(TuneSpec(), None, budget=MemoryBudget(max_flash_bytes=4000))
    assert flash_only.needs_footprints and not flash_only.verifies_arena  # no TFLM needed
    assert Search(TuneSpec(objective="arena"), None).verifies_arena
    assert not Search(TuneSpec(), None).needs_footprints
    assert str(error).startswith("no candidate fits max_arena_bytes = 1,000 and max_flash_bytes "
                                 "= 4,000: the smallest arena reached is 1,504 B (conv 50%; "
                                 "flash 5,000 B), set by CONV_2D b (op 2)")


def test_the_compression_path_costs_fewer_bits_a_weight_at_every_step(write_recipe):
    from prune2edge.tune.compression import settings
    from prune2edge.tune.search import probe_stages
    text = SIZE_STAGES + TUNE.format(objective="size") + COMPRESSION
    recipe = load_recipe(write_recipe(text, model="tiny_models:cnn"))
    assert settings(recipe, probe_stages(recipe)) == [
        {"sparsity": 0.5, "clusters": 8}, {"sparsity": 0.5, "clusters": 4},
        {"sparsity": 0.75, "clusters": 8}, {"sparsity": 0.75, "clusters": 4}]
    only = load_recipe(write_recipe(text, model="tiny_models:cnn"), ["tune.clusters=[]"])
    assert settings(only, probe_stages(only)) == [{"sparsity": 0.5}, {"sparsity": 0.75}]
    unclustered = STAGES + TUNE.format(objective="size") + "clusters = [8, 4]\n"
    recipe = load_recipe(write_recipe(unclustered, model="tiny_models:cnn"))
    with pytest.raises(RecipeError, match=r"tune\.clusters needs one cluster stage after the "
                                          "structural one to turn, the recipe has 0"):
        settings(recipe, probe_stages(recipe))
    unpreserved = load_recipe(write_recipe(text, model="tiny_models:cnn"),
                              ["stages.cluster.preserve_sparsity=false", "tune.clusters=[4, 2]"])
    assert len(settings(unpreserved, probe_stages(unpreserved))) == 4
    preserved = load_recipe(write_recipe(text, model="tiny_models:cnn"), ["tune.clusters=[4, 2]"])
    with pytest.raises(RecipeError, match=r"number_of_clusters must be in \[3, 256\], got 2 "
                                          r"\(tune: sparsity 50.0%, 2 clusters"):
        settings(preserved, probe_stages(preserved))


def test_greedy_steps_one_group_uniform_steps_all():
    from prune2edge.tune.greedy import next_steps
    greedy = TuneSpec(ratios=(0.25, 0.5))
    assert next_steps(greedy, {"a": 0.0, "b": 0.25}) == [{"a": 0.25, "b": 0.25},
                                                         {"a": 0.0, "b": 0.5}]
    assert next_steps(greedy, {"a": 0.5, "b": 0.5}) == []
    uniform = TuneSpec(ratios=(0.25, 0.5), search="uniform")
    assert next_steps(uniform, {"a": 0.0, "b": 0.0}) == [{"a": 0.25, "b": 0.25}]
    assert next_steps(uniform, {"a": 0.5, "b": 0.5}) == []
    # With a memory budget, the every-group step joins each group's own.
    assert next_steps(greedy, {"a": 0.0, "b": 0.0}, together=True) == [
        {"a": 0.25, "b": 0.0}, {"a": 0.0, "b": 0.25}, {"a": 0.25, "b": 0.25}]
    assert next_steps(greedy, {"a": 0.0, "b": 0.5}, together=True) == [{"a": 0.25, "b": 0.5}]


def test_the_validation_split_is_held_out_training_data():
    data = Dataset(np.arange(100.0)[:, None], np.arange(100), np.zeros((5, 1)),
                   np.zeros(5, int), 100)
    carved = carve_validation(data, 0.2, seed=0)
    assert len(carved.x_test) == 20 and len(carved.x_train) == 80
    assert not set(carved.y_test) & set(carved.y_train)
    assert set(carved.y_test) | set(carved.y_train) == set(range(100))
    assert np.array_equal(carve_validation(data, 0.2, seed=0).y_test, carved.y_test)


def test_frontier_and_latency_model():
    assert pareto_frontier([(3, 90), (1, 80), (2, 95), (4, 94)]) == [(1, 80), (2, 95)]
    model = LatencyModel.fit([(100, 1.5), (200, 2.5), (300, 3.5)])
    assert model.predict(400) == pytest.approx(4.5)


def test_tuned_recipe_is_plain_and_absolute(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(STAGES + TUNE.format(objective="size"),
                                      model="tiny_models:cnn"), ["seed=3"])
    document = tuned_document(recipe, {"conv2d": 0.5})
    assert "tune" not in document and document["seed"] == 3
    structural = document["stages"][1]
    assert structural["ratios"] == {"conv2d": 0.5} and structural["reconstruct"] is True
    assert document["data"]["source"].startswith("/")
    assert "strip_names" not in document["stages"][3]
    size = load_recipe(write_recipe(SIZE_STAGES + TUNE.format(objective="size") + COMPRESSION,
                                    model="tiny_models:cnn"))
    stages = tuned_document(size, {"conv2d": 0.5}, {"sparsity": 0.75, "clusters": 4})["stages"]
    assert stages[3]["schedule"] == {"kind": "constant_sparsity", "target_sparsity": 0.75,
                                     "begin_step": 0, "end_step": -1, "frequency": 100}
    assert stages[6]["number_of_clusters"] == 4 and stages[-2]["strip_names"] is True
    plain = tuned_document(size, {"conv2d": 0.5})["stages"]  # the structural winner
    assert plain[3]["schedule"]["target_sparsity"] == 0.5 and plain[6]["number_of_clusters"] == 8


class _InterruptAt(Reporter):
    """Ctrl-C after `trials` trials."""

    def __init__(self, trials: int):
        self.trials = trials

    def task(self, description, total, unit="steps"):
        reporter = self

        class Interrupting(Task):
            def advance(self, steps=1, status=""):
                if description == "tune":
                    reporter.trials -= 1
                    if reporter.trials == 0:
                        raise KeyboardInterrupt

        from contextlib import nullcontext
        return nullcontext(Interrupting())


def _tune_once(root, npz, objective):
    """An uninterrupted tune into ROOT/tune, its recipe ROOT/recipe.toml, and what its
    pareto.png draws in the finalists' panel (ROOT/drawn.json)."""
    stages = STAGES if objective == "latency" else SIZE_STAGES  # size: unstructured too
    path = root / "recipe.toml"
    path.write_text(f'version = 1\nname = "tiny"\n[model]\nsource = "tiny_models:cnn"\n'
                    f'[data]\nsource = "{npz}"\n{stages}' + TUNE.format(objective=objective)
                    + (COMPRESSION if objective == "size" else ""))
    cheaper = ("tune.finalists=1",) if objective == "latency" else ()  # size: two
    result = tune(path, root / "tune", overrides=cheaper)
    panel = figure(result.search, "tiny").axes[2]
    drawn = {"finalists": panel.collections[0].get_offsets().tolist(),
             "chosen": panel.collections[-1].get_offsets().tolist()}
    (root / "drawn.json").write_text(json.dumps(drawn))


@pytest.fixture
def tuned(tmp_path_factory, tiny_npz):
    """objective -> the folder of its uninterrupted tune (the latency objective's with one
    finalist), each made once for every worker, when a test first asks for it."""
    return lambda objective: made_once(tmp_path_factory, f"tune-{objective}",
                                       lambda root: _tune_once(root, tiny_npz, objective))


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["latency", "size"])
def test_tune_end_to_end_and_rebuild_byte_identical(tuned, tmp_path, objective):
    out = tuned(objective) / "tune"
    doc = json.loads((out / "tune.json").read_text())
    assert 1 <= len(doc["trials"]) <= 4 and not doc["interrupted"]
    assert doc["winner"]["within_budget"] and doc["final"]["test_accuracy"] is not None
    assert (out / "pareto.png").read_bytes().startswith(PNG)
    drawn = json.loads((tuned(objective) / "drawn.json").read_text())
    assert drawn["finalists"] == [[f["gzip_bytes"], f["validation_accuracy"] * 100]
                                  for f in doc["finalists"]]
    assert drawn["chosen"] == [[doc["winner"]["gzip_bytes"],
                                doc["winner"]["validation_accuracy"] * 100]]
    assert not (out / ".prune2edge-resume").exists()
    tuned_toml = out / "tuned.toml"
    stages = tomllib.loads(tuned_toml.read_text())["stages"]
    assert stages[1]["ratios"] == doc["winner"]["ratios"]
    if objective == "size":  # then the sparsity and clusters, on the structural winner
        compressed = [f for f in doc["finalists"] if "knobs" in f]
        most = [f for f in compressed if f["knobs"] == {"sparsity": 0.75, "clusters": 4}]
        assert most and len(compressed) == (1 if most[0]["within_budget"] else 2)
        assert all(f["ratios"] == compressed[0]["ratios"] for f in compressed)
        knobs = doc["winner"].get("knobs", {"sparsity": 0.5, "clusters": 8})
        assert stages[3]["schedule"]["target_sparsity"] == knobs["sparsity"]
        assert stages[6]["number_of_clusters"] == knobs["clusters"]
    again = build(tuned_toml, tmp_path / "again")
    assert (tmp_path / "again" / "model.tflite").read_bytes() == \
        (out / "build" / "model.tflite").read_bytes()
    assert again.accuracy == json.loads((out / "build" / "report.json").read_text())["accuracy"]


def _trials(doc):
    """tune.json's trials without the clock's figures (time taken, latency predicted from
    timings), which no two runs share."""
    return [{k: v for k, v in trial.items() if k not in ("seconds", "predicted_p50_ms")}
            for trial in doc["trials"]]


@pytest.mark.slow
def test_an_interrupted_tune_claims_no_winner_and_resumes_with_two_jobs_to_the_same_one(
        tuned, tmp_path):
    """The size objective (the latency objective steers by timings, which vary run to run):
    resumed with the later greedy steps' trials shared among two worker processes, the tune
    writes what one uninterrupted process wrote."""
    from prune2edge.errors import Interrupted

    path, whole = tuned("size") / "recipe.toml", tuned("size") / "tune"  # no timings steer it
    out = tmp_path / "tune"
    with pytest.raises(Interrupted) as stopped:
        tune(path, out, reporter=_InterruptAt(2))
    assert "no tuned.toml was written" in str(stopped.value)
    assert str(stopped.value).endswith("run the same command with --resume to go on from there")
    doc = json.loads((out / "tune.json").read_text())
    assert doc["interrupted"] and len(doc["trials"]) == 2 and doc["winner"] is None
    assert not (out / "tuned.toml").exists()
    assert (out / "pareto.png").read_bytes().startswith(PNG)  # the panels say why they are empty
    assert not (out / "build").exists()

    resumed = tune(path, out, resume=True, jobs=2)
    again = json.loads((out / "tune.json").read_text())
    kept = [t["seconds"] for t in doc["trials"]]
    assert [t["seconds"] for t in again["trials"][:2]] == kept  # read back, not scored again
    first = json.loads((whole / "tune.json").read_text())
    assert len(first["trials"]) > 3  # a greedy step after the interruption had trials to share
    assert _trials(again) == _trials(first)
    assert [f["validation_accuracy"] for f in again["finalists"]] == \
        [f["validation_accuracy"] for f in first["finalists"]]
    assert (out / "tuned.toml").read_text() == (whole / "tuned.toml").read_text()
    assert (out / "build" / "model.tflite").read_bytes() == \
        (whole / "build" / "model.tflite").read_bytes()
    assert resumed.search.winner.ratios == first["winner"]["ratios"]
    assert not (out / ".prune2edge-resume").exists()


def test_a_panel_with_nothing_to_draw_says_why():
    from prune2edge.tune.findings import Search
    from prune2edge.tune.measure import Candidate
    search = Search(TuneSpec(), Candidate({}, 0.9, 1000, 100), interrupted=True)
    fig = figure(search, "tiny")
    for axes in fig.axes:
        texts = [t.get_text() for t in axes.texts]
        assert any("interrupted before any candidate got here" in t for t in texts)


def test_the_size_target_compares_gzip_bytes():
    from prune2edge.tune.findings import Search
    from prune2edge.tune.greedy import target_reached
    from prune2edge.tune.measure import Candidate

    search = Search(TuneSpec(objective="size", max_gzip_bytes=5000),
                    Candidate({}, 0.9, 10_000, 50_000))
    small = Candidate({"conv": 0.5}, 0.9, 1000, 200_000)  # many parameters, a small file
    assert target_reached(search, small, lambda candidate: 4_000)
    assert not target_reached(search, small, lambda candidate: 6_000)


def test_cli_errors_are_one_line(write_recipe, tmp_path):
    from typer.testing import CliRunner

    from prune2edge.cli import app

    runner = CliRunner()
    no_budget = write_recipe(STAGES, model="tiny_models:cnn")
    result = runner.invoke(app, ["tune", str(no_budget), "--out", str(tmp_path / "t")])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "tune needs an accuracy budget" in result.stderr
    bad = runner.invoke(app, ["tune", str(no_budget), "--set", "tune.max_trials=0"])
    assert bad.exit_code == 1 and "max_trials must be >= 1" in bad.stderr
    assert not (tmp_path / "t").exists()


@pytest.mark.slow
def test_the_recipes_own_setting_is_the_structural_winners_file(tmp_path, tiny_npz):
    """A compression setting equal to the recipe as written is not run again: the probe is
    the structural winner's own file, with the same validation accuracy and size."""
    path = tmp_path / "recipe.toml"
    path.write_text(f'version = 1\nname = "tiny"\n[model]\nsource = "tiny_models:cnn"\n'
                    f'[data]\nsource = "{tiny_npz}"\n{SIZE_STAGES}'
                    + TUNE.format(objective="size") + "sparsities = [0.5]\nclusters = [8]\n")
    result = tune(path, tmp_path / "tune", overrides=("tune.max_trials=1", "tune.finalists=1"))
    *_, structural, own = result.search.finalists
    assert own.knobs == {"sparsity": 0.5, "clusters": 8} and not structural.knobs
    assert (own.step, own.validation_accuracy, own.gzip_bytes) == \
        (structural.step, structural.validation_accuracy, structural.gzip_bytes)


@pytest.mark.slow
def test_the_arena_objective_verifies_its_finalists_on_tflm_and_names_an_unmet_budget(
        tmp_path, tiny_npz):
    pytest.importorskip("tflite_micro")
    path = tmp_path / "recipe.toml"
    path.write_text(f'version = 1\nname = "tiny"\n[model]\nsource = "tiny_models:cnn"\n'
                    f'[data]\nsource = "{tiny_npz}"\n{STAGES}' + TUNE.format(objective="arena"))
    result = tune(path, tmp_path / "tune", overrides=("tune.max_trials=2",))
    doc = json.loads((tmp_path / "tune" / "tune.json").read_text())
    memory = [f["memory"] for f in doc["finalists"]]
    assert len(memory) >= 2  # the dense model and a pruned one
    for figures in memory:  # predicted from the file, then measured by TFLM: equal
        assert figures["predicted_arena_bytes"] == figures["arena_bytes"] > 0
        assert figures["smallest_arena_bytes"] <= figures["arena_bytes"] + 16
        assert "(op " in figures["peak_op"]
    fitting = [f for f in doc["finalists"] if f["within_budget"]]
    assert doc["winner"]["memory"]["arena_bytes"] == min(
        f["memory"]["arena_bytes"] for f in fitting)
    assert result.report.micro is None or result.report.micro.get("arena") is not None
    smallest = min(figures["arena_bytes"] for figures in memory)
    with pytest.raises(BudgetError) as error:
        tune(path, tmp_path / "unmet", overrides=("tune.max_trials=2", "tune.finalists=1",
                                                  "budgets.max_arena_bytes=64"))
    message = str(error.value)
    assert "\n" not in message and "no candidate fits max_arena_bytes = 64" in message
    assert f"the smallest arena reached is {smallest:,} B" in message and "set by" in message
    assert (tmp_path / "unmet" / "tune.json").is_file()
    assert not (tmp_path / "unmet" / "tuned.toml").exists()
