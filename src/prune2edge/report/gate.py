"""The CI gate: a build's report against its recipe's budgets and a committed baseline."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import storage
from ..errors import BudgetError, ReportError
from ..params import parse_value
from .budgets import LIMITS, Budgets, Figure, Limit
from .format import table
from .schema import BuildReport, read_document

BASELINE_SCHEMA = "prune2edge.baseline/1"
DEFAULT_TOLERANCES = {
    "bytes_growth": 0.01,  # final .tflite may grow 1%
    "gzip_bytes_growth": 0.01,
    "accuracy_drop_pt": 0.5,  # .tflite accuracy may fall half a point
    "latency_ratio_growth": 0.3,  # final/baseline p50 may grow 30% (timing noise)
}


def _final(key: str) -> Callable[[BuildReport], float | None]:
    return lambda r: (r.sizes.get("final") or {}).get(key)


def _change(report: BuildReport) -> float | None:
    """final - baseline accuracy in points (older reports stored the drop instead)."""
    if "change_pt" in report.accuracy:
        return report.accuracy["change_pt"]
    drop = report.accuracy.get("drop_pt")
    return None if drop is None else -drop


def _latency_ratio(report: BuildReport) -> float | None:
    speedup = report.latency_ms.get("speedup_p50")
    return 1 / speedup if speedup else None


FIGURES = {
    "bytes": Figure("final .tflite size", _final("bytes"), "a convert stage", "B"),
    "gzip_bytes": Figure("final .tflite gzip size", _final("gzip_bytes"), "a convert stage",
                         "B"),
    "accuracy": Figure(".tflite accuracy", lambda r: r.accuracy.get("tflite"),
                       "a validate stage", "%"),
    "accuracy_change_pt": Figure("accuracy change vs baseline", _change, "a validate stage",
                                 "pt"),
    "latency_ratio": Figure("p50 latency final/baseline", _latency_ratio, "a validate stage"),
    "arena_bytes": Figure("TFLM tensor arena", lambda r: ((r.micro or {}).get("arena") or {})
                          .get("total"), 'a validate stage with runtime = "both" or "tflm"', "B"),
    "flash_bytes": Figure("flash for the model", lambda r: ((r.micro or {}).get("flash") or {})
                          .get("file_bytes"),
                          'a validate stage with runtime = "auto", "both" or "tflm"', "B"),
    "accuracy_change_pt_lower": Figure(
        "accuracy change vs baseline, lower end of its 95% interval",
        lambda r: (r.accuracy.get("paired") or {}).get("change_pt_95", [None, None])[0],
        "a validate stage (rebuild it with this prune2edge)", "pt"),
}
# budget key -> (figure, True if the figure must stay at or below the limit, the limit's
# sign: a drop of at most d points is a change of at least -d)
BUDGETS = {
    "max_bytes": ("bytes", True, 1),
    "max_gzip_bytes": ("gzip_bytes", True, 1),
    "min_accuracy": ("accuracy", False, 1),
    "max_accuracy_drop": ("accuracy_change_pt", False, -1),
    "max_latency_ratio": ("latency_ratio", True, 1),
    "max_arena_bytes": ("arena_bytes", True, 1),
    "max_flash_bytes": ("flash_bytes", True, 1),
}
GATES = ("point", "confident")  # accuracy_gate, loosest first


@dataclass(frozen=True)
class Verdict:
    check: str
    limit: str
    measured: str
    ok: bool | None  # None: not gated (not measured by this build, or on another CPU class)
    value: float | None = None
    note: str | None = None  # why a measured figure is not gated

    def to_dict(self) -> dict[str, Any]:
        out = {"check": self.check, "limit": self.limit, "measured": self.measured,
               "value": self.value, "ok": self.ok}
        return {**out, "note": self.note} if self.note else out

    @property
    def shown(self) -> str:
        """What was measured, with the reason it is not gated if it is not."""
        return f"{self.measured} (not gated: {self.note})" if self.note else self.measured


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdicts: list[Verdict]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.ok is False]

    def raise_for_failures(self) -> None:
        """BudgetError (exit 3), naming the checks that failed, if any did."""
        if self.failures:
            raise BudgetError(f"{len(self.failures)} check(s) failed", self.name,
                              ", ".join(v.check for v in self.failures))

    def markdown(self) -> str:
        status = "pass" if self.ok else f"FAIL ({len(self.failures)} over budget)"
        shown = {True: "ok", False: "**FAIL**", None: "not gated"}
        rows = [[v.check, v.limit, v.shown, shown[v.ok]] for v in self.verdicts]
        return (f"### prune2edge check: {self.name}: {status}\n\n"
                + table(["check", "limit", "measured", "verdict"], rows) + "\n")


def budgets_of(report: BuildReport, overrides: Iterable[str] = ()) -> Budgets:
    """The recipe's [budgets] as recorded in the report, with `key=value` overrides, which
    may add a budget or tighten one, never loosen it (CI relies on that)."""
    recipe = dict(report.recipe.get("budgets") or {})
    values = dict(recipe)
    for override in overrides:
        key, sep, raw = override.partition("=")
        key = key.strip()
        if not sep:
            raise ReportError("a budget needs the form KEY=VALUE", f"--budget {override}",
                              "e.g. --budget max_gzip_bytes=90000")
        values[key] = parse_value(raw.strip())
        if _looser(key, values[key], recipe.get(key)):
            was = f"{key} = {recipe[key]!r}" if recipe.get(key) not in (None, []) else f"no {key}"
            raise ReportError(f"--budget {key}={raw.strip()} is looser than the recipe's "
                              f"{was}", f"--budget {override}",
                              "--budget may only add or tighten a budget: loosen it in the "
                              "recipe's [budgets] table, where the change is reviewed")
    return Budgets.parse(values)


def _looser(key: str, new: Any, old: Any) -> bool:
    if key == "latency_cpus":  # gating latency on fewer CPU classes than before
        return not isinstance(new, list) or (old or None) is None or not set(old) <= set(new)
    if old is None:
        return False  # a new budget only adds a gate
    if key == "accuracy_gate":
        return new in GATES and old in GATES and GATES.index(new) < GATES.index(old)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (new, old)):
        return False  # a wrong type is refused when the budgets are checked
    at_most = LIMITS[key].at_most if key in LIMITS else key.startswith("max_")
    return new > old if at_most else new < old


def budget_verdicts(report: BuildReport, budgets: Budgets,
                    unmeasured_ok: bool = False) -> list[Verdict]:
    """Each budget against the report's figure. A figure the build did not measure is a
    ReportError, or with `unmeasured_ok` a verdict of None that says what it needs."""
    verdicts = []
    for key, (figure_key, at_most, sign) in BUDGETS.items():
        budget = getattr(budgets, key)
        if budget is None:
            continue
        name, limit = key, sign * budget
        if key == "max_accuracy_drop" and budgets.accuracy_gate == "confident":
            figure_key, name = "accuracy_change_pt_lower", f"{key} (95% lower end)"
        figure = FIGURES[figure_key]
        shown = f"{'<=' if at_most else '>='} {figure.show(limit)}"
        value = figure.read(report)
        if value is None and unmeasured_ok:
            verdicts.append(Verdict(name, shown, f"not measured (needs {figure.needs})", None))
            continue
        value = figure.of(report)
        ok = value <= limit if at_most else value >= limit
        note = latency_elsewhere(report, budgets) if figure_key == "latency_ratio" else None
        verdicts.append(Verdict(name, shown, figure.show(value), None if note else ok, value,
                                note))
    for key, budget in budgets.registered.items():
        verdicts.append(_verdict(report, key, LIMITS[key], budget, unmeasured_ok))
    return verdicts


def _verdict(report: BuildReport, name: str, limit: Limit, budget: float,
             unmeasured_ok: bool) -> Verdict:
    """A registered budget against its figure."""
    figure = limit.figure
    shown = f"{'<=' if limit.at_most else '>='} {figure.show(budget)}"
    value = figure.read(report)
    if value is None and unmeasured_ok:
        return Verdict(name, shown, f"not measured (needs {figure.needs})", None)
    value = figure.of(report)
    return Verdict(name, shown, figure.show(value),
                   value <= budget if limit.at_most else value >= budget, value)


def latency_elsewhere(report: BuildReport, budgets: Budgets,
                      recorded_on: str | None = None) -> str | None:
    """Why latency measured on this report's CPU class is not held to the budgets (set on
    `budgets.latency_cpus`) or to a baseline recorded on `recorded_on`; None if it is."""
    here = report.environment.get("cpu") or "an unknown CPU class"
    if budgets.latency_cpus and here not in budgets.latency_cpus:
        return f"measured on {here}, the budget is set for {', '.join(budgets.latency_cpus)}"
    if recorded_on and here != recorded_on:
        return f"measured on {here}, the baseline on {recorded_on}"
    return None


def make_baseline(report: BuildReport, tolerances: dict[str, float] | None = None) -> dict:
    """The figures of `report` to hold later builds of the same recipe to."""
    figures = {key: FIGURES[key].of(report) for key in ("bytes", "gzip_bytes")}
    for key in ("accuracy", "latency_ratio"):
        value = FIGURES[key].read(report)
        if value is not None:
            figures[key] = value
    return {
        "schema": BASELINE_SCHEMA,
        "recipe": {"name": report.name, "overrides": report.recipe.get("overrides", [])},
        "figures": figures,
        "tolerances": tolerances or dict(DEFAULT_TOLERANCES),
        "sha256": (report.artifacts.get("model.tflite") or {}).get("sha256"),
        "cpu": report.environment.get("cpu"),
        "environment": report.environment.get("packages", {}),
    }


def baseline_verdicts(report: BuildReport, baseline: dict[str, Any], source: str,
                      budgets: Budgets) -> list[Verdict]:
    recorded = baseline["recipe"]
    built = {"name": report.name, "overrides": report.recipe.get("overrides", [])}
    if recorded != built:
        raise ReportError(
            f"the baseline was recorded for {recorded['name']} with overrides "
            f"{recorded['overrides']}, but this build is {built['name']} with "
            f"{built['overrides']}", source,
            "build with the baseline's overrides, or record a new one with --update-baseline")
    figures, tolerances = baseline["figures"], {**DEFAULT_TOLERANCES, **baseline["tolerances"]}
    verdicts = []
    for key in ("bytes", "gzip_bytes"):
        growth = tolerances[f"{key}_growth"]
        limit = figures[key] * (1 + growth)
        value = FIGURES[key].of(report)
        verdicts.append(Verdict(f"baseline {key.replace('_', ' ')} (+{growth:.0%})",
                                f"<= {FIGURES[key].show(limit)}", FIGURES[key].show(value),
                                value <= limit))
    if "accuracy" in figures:
        drop = tolerances["accuracy_drop_pt"]
        limit = figures["accuracy"] - drop / 100
        value = FIGURES["accuracy"].of(report)
        verdicts.append(Verdict(f"baseline accuracy (-{drop} pt)",
                                f">= {FIGURES['accuracy'].show(limit)}",
                                FIGURES["accuracy"].show(value), value >= limit - 1e-12))
    if "latency_ratio" in figures:
        growth = tolerances["latency_ratio_growth"]
        limit = figures["latency_ratio"] * (1 + growth)
        value = FIGURES["latency_ratio"].of(report)
        note = latency_elsewhere(report, budgets, baseline.get("cpu"))
        verdicts.append(Verdict(f"baseline latency ratio (+{growth:.0%})",
                                f"<= {FIGURES['latency_ratio'].show(limit)}",
                                FIGURES["latency_ratio"].show(value),
                                None if note else value <= limit, value, note))
    return verdicts


def load_baseline(path: Path) -> dict[str, Any]:
    fix = "record one with prune2edge check BUILD --baseline FILE --update-baseline"
    doc = read_document(path, BASELINE_SCHEMA, "baseline", fix)
    missing = [k for k in ("recipe", "figures", "tolerances") if k not in doc]
    if missing:
        raise ReportError(f"the baseline has no {missing[0]}", str(path), fix)
    return doc


def write_baseline(path: Path, baseline: dict[str, Any]) -> None:
    """Write whole: a temporary file beside the target, then a rename."""
    storage.write_bytes(Path(path), json.dumps(baseline, indent=2) + "\n")


def run_check(report: BuildReport, baseline: Path | None = None,
              budget_overrides: Iterable[str] = ()) -> CheckResult:
    """Every verdict for `report`: its status, its budgets, and the baseline if given."""
    verdicts = [Verdict("build status", "ok", report.status, report.status == "ok")]
    budgets = budgets_of(report, budget_overrides)
    verdicts += budget_verdicts(report, budgets)
    if baseline is not None:
        verdicts += baseline_verdicts(report, load_baseline(baseline), str(baseline), budgets)
    if len(verdicts) == 1:
        raise ReportError("nothing to check", report.name,
                          "add a [budgets] table to the recipe, pass --budget KEY=VALUE, "
                          "or give --baseline FILE")
    return CheckResult(report.name, verdicts)
