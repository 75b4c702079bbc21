"""The CI gate: budgets, baselines, exit codes, Markdown summaries."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.recipe import bundled_recipes, load_recipe
from prune2edge.report.gate import load_baseline

runner = CliRunner()
BUDGETS = """
[budgets]
max_bytes = 1000000
min_accuracy = 0.3
max_latency_ratio = 5.0
"""


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory, tiny_npz):
    """One tiny build with budgets that hold."""
    from conftest import STANDARD_STAGES

    root = tmp_path_factory.mktemp("check")
    recipe = root / "recipe.toml"
    recipe.write_text(f'version = 1\nname = "tiny"\n[model]\nsource = "tiny_models:mlp"\n'
                      f'[data]\nsource = "{tiny_npz}"\n{BUDGETS}\n{STANDARD_STAGES}')
    out = root / "out"
    result = runner.invoke(app, ["build", str(recipe), "--out", str(out), "-q", "--check"])
    assert result.exit_code == 0, result.output
    assert "max_latency_ratio" in result.stdout
    return out


def check(*args, **kwargs):
    return runner.invoke(app, ["check", *map(str, args)], **kwargs)


def test_budgets_that_hold_pass(build_dir):
    result = check(build_dir)
    assert result.exit_code == 0, result.output
    for name in ("build status", "max_bytes", "min_accuracy", "max_latency_ratio"):
        assert name in result.stdout


def test_a_budget_tightened_below_the_measured_value_fails_with_exit_3(build_dir):
    measured = json.loads((build_dir / "report.json").read_text())["sizes"]["final"]
    result = check(build_dir, "--budget", f"max_gzip_bytes={measured['gzip_bytes'] - 1}")
    assert result.exit_code == 3
    assert f"<= {measured['gzip_bytes'] - 1:,} B" in result.stdout
    assert f"{measured['gzip_bytes']:,} B" in result.stdout and "FAIL" in result.stdout
    assert result.stderr.strip() == "error: 1 check(s) failed (tiny): max_gzip_bytes"


def test_markdown_goes_to_the_step_summary_and_a_file(build_dir, tmp_path):
    summary, markdown = tmp_path / "summary.md", tmp_path / "table.md"
    summary.write_text("earlier step\n")
    result = check(build_dir, "--markdown", markdown, "--budget", "min_accuracy=1.0",
                   env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 3
    text = markdown.read_text()
    assert text.startswith("### prune2edge check: tiny: FAIL (1 over budget)")
    assert "| min_accuracy | >= 100.00% |" in text and "**FAIL**" in text
    assert summary.read_text() == "earlier step\n" + text


def test_baseline_round_trip(build_dir, tmp_path):
    baseline = tmp_path / "tiny.baseline.json"
    result = check(build_dir, "--baseline", baseline, "--update-baseline")
    assert result.exit_code == 0, result.output
    assert "gzip_bytes" in result.stdout and "(new)" in result.stdout
    doc = load_baseline(baseline)
    assert doc["recipe"] == {"name": "tiny", "overrides": []}
    assert check(build_dir, "--baseline", baseline).exit_code == 0
    doc["figures"]["gzip_bytes"] = int(doc["figures"]["gzip_bytes"] * 0.9)  # a smaller past
    baseline.write_text(json.dumps(doc))
    result = check(build_dir, "--baseline", baseline)
    assert result.exit_code == 3 and "baseline gzip bytes (+1%)" in result.stdout
    doc["recipe"]["overrides"] = ["stages.finetune.epochs=9"]
    baseline.write_text(json.dumps(doc))
    result = check(build_dir, "--baseline", baseline)
    assert result.exit_code == 1
    assert "the baseline was recorded for tiny with overrides" in result.stderr
    doc["recipe"]["overrides"] = []
    doc["tolerances"]["latency_ratio_growth"] = 0.75  # edited by hand for a noisy model
    baseline.write_text(json.dumps(doc))
    assert check(build_dir, "--baseline", baseline, "--update-baseline").exit_code == 0
    assert load_baseline(baseline)["tolerances"]["latency_ratio_growth"] == 0.75  # kept


@pytest.mark.parametrize(("setup", "args", "message"), [
    (lambda d: None, ["{missing}"], "error: no report found"),
    (lambda d: (d / "report.json").write_text("{}"), ["{dir}"],
     "error: not a prune2edge report (schema None)"),
    (lambda d: (d / "report.json").write_text("{nope"), ["{dir}"],
     "error: cannot read the report"),
    (lambda d: None, ["{build}", "--budget", "max_bytez=1"], "error: unknown key 'max_bytez'"),
    (lambda d: None, ["{build}", "--budget", "oops"], "error: a budget needs the form KEY=VALUE"),
    (lambda d: None, ["{build}", "--update-baseline"],
     "error: --update-baseline needs --baseline FILE"),
    (lambda d: None, ["{build}", "--baseline", "{missing}"], "error: no baseline found"),
])
def test_usage_and_input_errors_exit_1(build_dir, tmp_path, setup, args, message):
    setup(tmp_path)
    names = {"missing": tmp_path / "missing", "dir": tmp_path, "build": build_dir}
    result = check(*[a.format(**names) for a in args])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_budgets_need_the_figures_they_limit(write_recipe, tmp_path):
    recipe = write_recipe("[[stages]]\nkind = \"convert\"\n",
                          extra="[budgets]\nmin_accuracy = 0.9\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(recipe), "--out", str(out), "-q", "--check"])
    assert result.exit_code == 1
    assert "the report has no .tflite accuracy (tiny): the recipe needs a validate stage" \
        in result.stderr
    assert (out / "model.tflite").exists()  # the build itself stands; only the gate failed
    no_budgets = write_recipe("[[stages]]\nkind = \"convert\"\n", name="plain.toml")
    plain = runner.invoke(app, ["build", str(no_budgets), "--out", str(tmp_path / "plain"),
                                "-q"])
    assert plain.exit_code == 0 and "budgets:" not in plain.stdout
    assert json.loads((tmp_path / "plain" / "report.json").read_text())["budgets"] is None
    result = check(tmp_path / "plain")
    assert result.exit_code == 1 and result.stderr.startswith("error: nothing to check")


def test_every_example_recipe_has_a_baseline_for_its_ci_build():
    for path in bundled_recipes():
        recipe = load_recipe(path)
        baseline = load_baseline(path.with_suffix(".baseline.json"))
        assert baseline["recipe"]["name"] == recipe.name


def test_a_confident_gate_judges_the_drop_by_its_95_percent_lower_end(build_dir, tmp_path):
    """The report carries the paired interval of the change; `accuracy_gate = "confident"`
    gates on its lower end, the default on the measured change."""
    report = json.loads((build_dir / "report.json").read_text())
    accuracy = report["accuracy"]
    low, high = accuracy["paired"]["change_pt_95"]
    assert low <= accuracy["change_pt"] <= high and "drop_pt" not in accuracy
    assert accuracy["tflite_95"][0] <= accuracy["tflite"] <= accuracy["tflite_95"][1]
    assert "McNemar exact p" in (build_dir / "report.md").read_text()
    # a change of -0.3 pt whose interval reaches -1.0 pt, against a 0.5 pt budget
    accuracy.update(change_pt=-0.3)
    accuracy["paired"].update(change_pt_95=[-1.0, 0.4])
    edited = tmp_path / "report.json"
    edited.write_text(json.dumps(report))
    point = check(edited, "--budget", "max_accuracy_drop=0.5")
    confident = check(edited, "--budget", "max_accuracy_drop=0.5",
                      "--budget", "accuracy_gate=confident")
    assert point.exit_code == 0, point.output
    assert confident.exit_code == 3 and "max_accuracy_drop (95% lower end)" in confident.stdout
    assert "-1.00 pt" in confident.stdout and ">= -0.50 pt" in confident.stdout


@pytest.mark.parametrize(("budget", "looser"), [
    ("max_bytes", "max_bytes=2000000"), ("min_accuracy", "min_accuracy=0.2"),
    ("max_latency_ratio", "max_latency_ratio=6"),
])
def test_a_budget_on_the_command_line_may_not_loosen_the_recipes(build_dir, budget, looser):
    result = check(build_dir, "--budget", looser)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith(f"error: --budget {looser} is looser than the recipe's {budget}")
    assert line.endswith("--budget may only add or tighten a budget: loosen it in the "
                         "recipe's [budgets] table, where the change is reviewed")


def test_a_confident_gate_may_not_be_relaxed_to_a_point_one(build_dir, tmp_path):
    report = json.loads((build_dir / "report.json").read_text())
    report["recipe"]["budgets"]["accuracy_gate"] = "confident"
    edited = tmp_path / "report.json"
    edited.write_text(json.dumps(report))
    assert check(edited, "--budget", "accuracy_gate=point").exit_code == 1
    assert check(edited, "--budget", "max_bytes=999999").exit_code in (0, 3)


def test_every_report_carries_its_budgets_verdicts_without_check(build_dir, tmp_path):
    """The fixture built with --check; a build without it says the same in its report."""
    report = json.loads((build_dir / "report.json").read_text())
    verdicts = {v["check"]: v for v in report["budgets"]["verdicts"]}
    assert report["budgets"]["holds"] is True
    assert set(verdicts) == {"max_bytes", "min_accuracy", "max_latency_ratio"}
    assert verdicts["max_bytes"]["value"] == report["sizes"]["final"]["bytes"]
    assert all(v["ok"] is True for v in verdicts.values())
    assert "## Budgets: every budget holds" in (build_dir / "report.md").read_text()


@pytest.mark.slow
def test_a_build_without_check_prints_its_budgets_and_exits_0_when_one_fails(tiny_npz,
                                                                           tmp_path):
    from conftest import STANDARD_STAGES

    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'version = 1\nname = "tiny"\n[model]\nsource = "tiny_models:mlp"\n'
                      f'[data]\nsource = "{tiny_npz}"\n[budgets]\nmax_bytes = 10\n'
                      f'{STANDARD_STAGES}')
    result = runner.invoke(app, ["build", str(recipe), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert "budgets: max_bytes OVER (not gated: pass --check" in result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["budgets"]["holds"] is False
    assert "**over budget**" in (tmp_path / "out" / "report.md").read_text()


def _on_cpu(build_dir, tmp_path, cpu, **budgets):
    """The fixture's report as if measured on `cpu`, with `budgets` added to its recipe's."""
    report = json.loads((build_dir / "report.json").read_text())
    report["environment"]["cpu"] = cpu
    report["recipe"]["budgets"].update(budgets)
    edited = tmp_path / "report.json"
    edited.write_text(json.dumps(report))
    return edited


def test_latency_is_gated_only_on_the_cpu_classes_its_budget_names(build_dir, tmp_path):
    """A ratio the build misses (0.001x) fails on a named class and is shown, not gated,
    on another, with both classes named."""
    names = ["x86_64 avx512vnni", "x86_64 avx512"]
    elsewhere = _on_cpu(build_dir, tmp_path, "x86_64 avx2", max_latency_ratio=0.001,
                        latency_cpus=names)
    result = check(elsewhere)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "not gated" in text and "measured on x86_64 avx2" in text
    assert "the budget is set for x86_64 avx512vnni, x86_64 avx512" in text
    assert check(elsewhere, "--budget", 'latency_cpus=["x86_64 avx512vnni", "x86_64 avx512", '
                 '"x86_64 avx2"]').exit_code == 3  # a wider list only adds gates
    assert check(_on_cpu(build_dir, tmp_path, "x86_64 avx512", max_latency_ratio=0.001,
                         latency_cpus=names)).exit_code == 3


@pytest.mark.parametrize("override", ['latency_cpus=["x86_64 avx2"]', "latency_cpus=1"])
def test_a_cpu_list_on_the_command_line_may_not_narrow_the_latency_gate(build_dir, override):
    result = check(build_dir, "--budget", override)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: --budget {override} is looser than the recipe's "
                                    "no latency_cpus")


def test_a_baseline_from_another_cpu_class_does_not_gate_latency(build_dir, tmp_path):
    baseline = tmp_path / "tiny.baseline.json"
    assert check(build_dir, "--baseline", baseline, "--update-baseline").exit_code == 0
    doc = load_baseline(baseline)
    report = json.loads((build_dir / "report.json").read_text())
    assert doc["cpu"] == report["environment"]["cpu"]
    doc["figures"]["latency_ratio"] = 0.0001  # a past this build cannot match
    baseline.write_text(json.dumps(doc))
    assert check(build_dir, "--baseline", baseline).exit_code == 3
    doc["cpu"] = "arm64 dotprod" if doc["cpu"] != "arm64 dotprod" else "x86_64 avx2"
    baseline.write_text(json.dumps(doc))
    result = check(build_dir, "--baseline", baseline)
    assert result.exit_code == 0, result.output
    assert f"the baseline on {doc['cpu']}" in " ".join(result.stdout.split())


def test_an_unknown_cpu_class_is_refused_at_recipe_check(write_recipe):
    from prune2edge.errors import RecipeError

    recipe = write_recipe("[[stages]]\nkind = \"convert\"\n", extra=(
        '[budgets]\nmax_latency_ratio = 0.5\nlatency_cpus = ["x86_64 avx-512"]\n'))
    with pytest.raises(RecipeError) as info:
        load_recipe(recipe)
    assert "unknown CPU class 'x86_64 avx-512'" in str(info.value)
    assert "did you mean 'x86_64 avx512'?" in str(info.value)
