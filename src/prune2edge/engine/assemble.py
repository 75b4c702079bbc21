"""Assembling a finished build's figures into its report: sizes (measured here, once), each
stage kind's own fields, plots, artifacts and the environment; writing it with each stage
kind's section of report.md."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from ..cpu import cpu_class
from ..keras.load import LoadedModel
from ..keras.model import has_wrappers, weight_sparsity
from ..report.budgets import Budgets
from ..report.gate import budget_verdicts
from ..report.markdown import render
from ..report.plots import write_plots
from ..report.schema import BuildReport
from ..sizes import Size, ratio, sha256
from .context import BuildContext, StageRecord
from .stage import Stage

NOT_ARTIFACTS = {"report.json", "report.md", "build.log"}
PACKAGES = ("prune2edge", "tensorflow", "tf-keras", "tensorflow-model-optimization",
            "ai-edge-litert", "tflite-micro", "numpy")
# What the report holds for a field no stage of the build contributes to.
EMPTY: dict[str, Any] = {"accuracy": {}, "agreement": None, "latency_ms": {}, "memory": {},
                         "pruning": [], "structural": [], "conversion": None}


def assemble(ctx: BuildContext, records: list[StageRecord], stages: Sequence[Stage], *,
             name: str, seed: int, model: LoadedModel, recipe: dict[str, Any], seconds: float,
             resumed: dict[str, Any] | None = None) -> BuildReport:
    """Collect a finished build's figures into a report."""
    sizes = {role: Size.of_file(path).to_dict() for role, path in ctx.tflite.items()}
    baseline, final = sizes.get("baseline"), sizes.get("final")
    fields: dict[str, Any] = {
        **EMPTY,
        "sizes": {"baseline": baseline, "final": final,
                  "gzip_ratio": _ratio(baseline, final, "gzip_bytes"),
                  "bytes_ratio": _ratio(baseline, final, "bytes"), "steps": []},
    }
    for cls in dict.fromkeys(type(stage) for stage in stages):
        own = [r for r in records if r.kind == cls.kind]
        if own:
            for key, value in cls.report_fields(own).items():
                merge = isinstance(value, dict) and isinstance(fields.get(key), dict)
                fields[key] = {**fields[key], **value} if merge else value
    report = BuildReport(
        name=name,
        status="failed" if ctx.failure else "ok",
        failure=ctx.failure,
        resumed=resumed,
        seed=seed,
        recipe=recipe,
        model=model.describe(),
        data=ctx.setup.data.describe(),
        stages=[r.to_dict() for r in records],
        sparsity=(None if ctx.masks is not None or has_wrappers(ctx.keras_model)
                  else weight_sparsity(ctx.keras_model)),
        artifacts={},
        plots=[],
        environment=environment(seed),
        seconds=round(seconds, 3),
        warnings=[w for r in records for w in r.result.warned()],
        extra={k: v for k, v in fields.items() if k not in BuildReport.named()},
        **{k: v for k, v in fields.items() if k in BuildReport.named()},
    )
    report = dataclasses.replace(report, budgets=_budgets(report))
    plots = write_plots(report, ctx.setup.work_dir)
    return dataclasses.replace(report, plots=plots, artifacts=_artifacts(ctx.setup.work_dir))


def write(report: BuildReport, directory: Path, stages: Sequence[Stage]) -> None:
    """report.json and report.md, with the sections of the stages' kinds (latest first) and
    what the baseline is (the input model, unless a stage made it: the last one that did)."""
    kinds = list(dict.fromkeys(type(stage) for stage in stages))
    baseline = next((s.sets_baseline for s in reversed(stages) if s.sets_baseline),
                    "the input model")
    (directory / "report.md").write_text(
        render(report, [kind.markdown for kind in reversed(kinds)], baseline))
    (directory / "report.json").write_text(report.to_json())


def _budgets(report: BuildReport) -> dict[str, Any] | None:
    """Each budget of the recipe against the build's figures (what `check` would say)."""
    values = report.recipe.get("budgets")
    if not values:
        return None
    verdicts = budget_verdicts(report, Budgets.parse(values), unmeasured_ok=True)
    if not verdicts:  # a table with only settings (accuracy_gate, latency_cpus)
        return None
    return {"holds": all(v.ok is not False for v in verdicts),  # None: not gated
            "verdicts": [v.to_dict() for v in verdicts]}


def _ratio(before: dict | None, after: dict | None, key: str) -> float | None:
    if not before or not after:
        return None
    value = ratio(before[key], after[key])
    return None if value is None else round(value, 4)


def _artifacts(directory: Path) -> dict[str, Any]:
    found = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and rel not in NOT_ARTIFACTS:
            found[rel] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    return found


def environment(seed: int) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_class(),
        "cpus": os.cpu_count(),
        "determinism": {
            "seed": seed,
            "tensorflow_op_determinism": True,
            "reproducible": "artifacts and every figure but timings are identical for the same "
                            "recipe, seed, package versions and CPU class",
            "varies_between_runs": ["seconds", "stages[].seconds", "latency_ms", "memory",
                                    "conversion.candidates[].p50_ms", "conversion.speed_note",
                                    "conversion.int8.float_cost.*.p50_ms",
                                    "budgets (max_latency_ratio's verdict)"],
        },
    }

