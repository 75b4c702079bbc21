"""report.md: the build report for people. Stage kinds contribute their own sections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .format import figures, fmt_bytes, fmt_ms, fmt_pct, fmt_ratio, table
from .schema import BuildReport

Section = Callable[[BuildReport], list[str]]  # lines of report.md from a finished report


def summary_rows(report: BuildReport) -> list[list[str]]:
    """Baseline vs final side by side: the figures users judge a build by."""
    sizes, acc, lat = report.sizes, report.accuracy, report.latency_ms
    base, final = sizes.get("baseline") or {}, sizes.get("final") or {}
    base_lat, final_lat = lat.get("baseline") or {}, lat.get("final") or {}
    change = acc.get("change_pt")
    return [
        ["size (bytes)", fmt_bytes(base.get("bytes")), fmt_bytes(final.get("bytes")),
         fmt_ratio(sizes.get("bytes_ratio")) + " smaller"],
        ["gzip size (bytes)", fmt_bytes(base.get("gzip_bytes")), fmt_bytes(final.get("gzip_bytes")),
         fmt_ratio(sizes.get("gzip_ratio")) + " smaller"],
        ["accuracy (.tflite)", _with_interval(acc, "baseline"), _with_interval(acc, "tflite"),
         "–" if change is None else f"{change:+.2f} pt" + _change_interval(acc)],
        ["p50 latency (ms)", fmt_ms(base_lat.get("p50")), fmt_ms(final_lat.get("p50")),
         fmt_ratio(lat.get("speedup_p50")) + " faster"],
    ]


def _with_interval(acc: dict[str, Any], role: str) -> str:
    """'97.60% (96.8–98.2)': an accuracy and its 95% interval, where the report has one."""
    bounds = acc.get(f"{role}_95")
    text = fmt_pct(acc.get(role))
    return text if not bounds else f"{text} ({bounds[0]:.1%}–{bounds[1]:.1%})"


def _change_interval(acc: dict[str, Any]) -> str:
    """' (−0.9 to +0.1)': the 95% interval of the paired change, in points."""
    paired = acc.get("paired")
    if not paired:
        return ""
    low, high = paired["change_pt_95"]
    return f" ({low:+.2f} to {high:+.2f})"


def accuracy_sentence(acc: dict[str, Any]) -> str:
    """The paired comparison in one sentence, for report.md and the console."""
    paired = acc["paired"]
    return (f"Baseline → final on the same {acc['test_samples']} test samples: only the "
            f"baseline right on {paired['only_baseline_right']}, only the final model on "
            f"{paired['only_final_right']}; the change is {acc['change_pt']:+.2f} pt, 95% "
            f"interval {paired['change_pt_95'][0]:+.2f} to {paired['change_pt_95'][1]:+.2f} pt "
            "(paired, "
            f"Newcombe); McNemar exact p = {paired['mcnemar_p']:.3g}: {paired['verdict']}.")


def _baseline_sentence(what: str) -> str:
    return f"Baseline is the dense float32 .tflite of {what}, built and measured in the same run."


def render(report: BuildReport, sections: Sequence[Section] = (),
           baseline: str = "the input model") -> str:
    """report.md, with `sections` (each stage kind's) and what the baseline is."""
    parts = [f"# prune2edge build: {report.name}", "",
             f"Status: **{report.status}** · seed {report.seed} · {report.seconds:.1f} s · "
             f"model `{report.model['source']}` · data `{report.data['source']}`", ""]
    parts += [f"**Warning: {warning}**" + "\n" for warning in report.warnings]
    parts += ["## Baseline vs final", "",
              _baseline_sentence(baseline), "",
              table(["", "baseline", "final", "ratio"], summary_rows(report)), ""]
    acc = report.accuracy
    if acc.get("paired"):
        parts += ["Accuracies are given with their 95% interval (Wilson). " +
                  accuracy_sentence(acc), ""]
    if acc:
        parts += [f"Keras accuracy of the final model: {fmt_pct(acc.get('keras'))} on "
                  f"{acc.get('test_samples')} test samples.", ""]
    if report.agreement:
        parts += [f"Keras vs .tflite: top-1 agreement {fmt_pct(report.agreement['top1'])}, "
                  f"max abs output difference {report.agreement['max_abs_diff']:.3g}.", ""]
    for section in sections:
        parts += section(report)
    parts += _budgets(report) + _sparsity(report) + _data(report)
    parts += ["## Stages", "",
              table(["#", "stage", "seconds", "figures"],
                    [[i, r["name"], f"{r['seconds']:.1f}", figures(r["outputs"])]
                     for i, r in enumerate(report.stages, 1)]), ""]
    parts += ["## Artifacts", "",
              table(["file", "bytes", "sha256"],
                    [[f"`{name}`", fmt_bytes(a["bytes"]), f"`{a['sha256'][:16]}…`"]
                     for name, a in report.artifacts.items()]), ""]
    env = report.environment
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    det = env["determinism"]
    parts += ["## Environment", "", f"{packages}; Python {env['python']} on {env['platform']}, "
              f"{env['cpus']} CPUs{_cpu_class(env)}.", "",
              f"Seed {det['seed']}, TensorFlow op determinism on: {det['reproducible']}. "
              f"Timings vary between runs ({', '.join(det['varies_between_runs'])}).", ""]
    return "\n".join(parts)


def _cpu_class(env: dict[str, Any]) -> str:
    return f" (class {env['cpu']})" if env.get("cpu") else ""


def _sparsity(report: BuildReport) -> list[str]:
    sp = report.sparsity
    if not sp:
        return []
    rows = [[s["layer"], s["type"], fmt_bytes(s["weights"]), fmt_pct(s["sparsity"])]
            for s in sp["layers"]]
    parts = [f"## Weight sparsity: {fmt_pct(sp['overall'])} of {sp['weights']:,} kernel weights",
             "", table(["layer", "type", "weights", "zeros"], rows), ""]
    if "sparsity.png" in report.plots:
        parts += ["![weight sparsity per layer](sparsity.png)", ""]
    return parts


def _budgets(report: BuildReport) -> list[str]:
    budgets = report.budgets
    if not budgets:
        return []
    shown = {True: "ok", False: "**over budget**", None: "not gated"}
    rows = [[v["check"], v["limit"], v["measured"] + (f" ({v['note']})" if v.get("note") else ""),
             shown[v["ok"]]] for v in budgets["verdicts"]]
    open_ = sum(v["ok"] is None for v in budgets["verdicts"])
    verdict = ("**not every budget holds**" if not budgets["holds"] else
               f"none exceeded, {open_} not gated" if open_ else "every budget holds")
    return [f"## Budgets: {verdict}", "",
            "The recipe's `[budgets]` against this build's figures; `prune2edge check` (or "
            "`build --check`) fails on them.", "",
            table(["budget", "limit", "measured", "verdict"], rows), ""]


def _data(report: BuildReport) -> list[str]:
    data = report.data
    steps = data.get("preprocessing") or []
    done = "".join(f"\n- {step}" for step in steps) if steps else " none."
    return ["## Data", "",
            f"`{data['source']}`: {data['train_samples']:,} training and "
            f"{data['test_samples']:,} test samples of shape {tuple(data['sample_shape'])}, "
            f"{data['num_classes']} classes. What was done to fit them to the model:{done}", ""]
