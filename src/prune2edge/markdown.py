"""report.md: the build report for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report import BuildReport


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_bytes(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}x"


def fmt_ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def summary_rows(report: BuildReport) -> list[list[str]]:
    """Baseline vs final side by side: the figures users judge a build by."""
    sizes, acc, lat = report.sizes, report.accuracy, report.latency_ms
    base, final = sizes.get("baseline") or {}, sizes.get("final") or {}
    base_lat, final_lat = lat.get("baseline") or {}, lat.get("final") or {}
    drop = acc.get("drop_pt")
    return [
        ["size (bytes)", fmt_bytes(base.get("bytes")), fmt_bytes(final.get("bytes")),
         fmt_ratio(sizes.get("bytes_ratio")) + " smaller"],
        ["gzip size (bytes)", fmt_bytes(base.get("gzip_bytes")), fmt_bytes(final.get("gzip_bytes")),
         fmt_ratio(sizes.get("gzip_ratio")) + " smaller"],
        ["accuracy (.tflite)", fmt_pct(acc.get("baseline")), fmt_pct(acc.get("tflite")),
         "–" if drop is None else f"{-drop:+.2f} pt"],
        ["p50 latency (ms)", fmt_ms(base_lat.get("p50")), fmt_ms(final_lat.get("p50")),
         fmt_ratio(lat.get("speedup_p50")) + " faster"],
    ]


def render(report: BuildReport) -> str:
    parts = [f"# prune2edge build: {report.name}", "",
             f"Status: **{report.status}** · seed {report.seed} · {report.seconds:.1f} s · "
             f"model `{report.model['source']}` · data `{report.data['source']}`", ""]
    parts += ["## Baseline vs final", "",
              "Baseline is the dense float32 .tflite of the input model (after `train`), "
              "built and measured in the same run.", "",
              table(["", "baseline", "final", "ratio"], summary_rows(report)), ""]
    acc = report.accuracy
    if acc:
        parts += [f"Keras accuracy of the final model: {fmt_pct(acc.get('keras'))} on "
                  f"{acc.get('test_samples')} test samples.", ""]
    if report.agreement:
        parts += [f"Keras vs .tflite: top-1 agreement {fmt_pct(report.agreement['top1'])}, "
                  f"max abs output difference {report.agreement['max_abs_diff']:.3g}.", ""]
    parts += (_latency(report) + _conversion(report) + _structural(report) + _pruning(report)
              + _sparsity(report))
    parts += ["## Stages", "",
              table(["#", "stage", "seconds", "figures"],
                    [[i, r["name"], f"{r['seconds']:.1f}", _figures(r["outputs"])]
                     for i, r in enumerate(report.stages, 1)]), ""]
    parts += ["## Artifacts", "",
              table(["file", "bytes", "sha256"],
                    [[f"`{name}`", fmt_bytes(a["bytes"]), f"`{a['sha256'][:16]}…`"]
                     for name, a in report.artifacts.items()]), ""]
    env = report.environment
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    det = env["determinism"]
    parts += ["## Environment", "", f"{packages}; Python {env['python']} on {env['platform']}, "
              f"{env['cpus']} CPUs.", "",
              f"Seed {det['seed']}, TensorFlow op determinism on: {det['reproducible']}. "
              f"Timings vary between runs ({', '.join(det['varies_between_runs'])}).", ""]
    return "\n".join(parts)


def _latency(report: BuildReport) -> list[str]:
    rows = []
    for role in ("baseline", "final"):
        lat = report.latency_ms.get(role)
        if lat:
            kernels = lat["kernels"] + (f" ({lat['fallback']})" if lat.get("fallback") else "")
            low, high = lat.get("p50_range") or (None, None)
            rows.append([role, fmt_ms(lat["p50"]), fmt_ms(lat["p90"]), fmt_ms(lat["p99"]),
                         fmt_ms(lat["mean"]), f"{fmt_ms(low)}–{fmt_ms(high)}", lat["runs"],
                         lat["threads"], kernels])
    if not rows:
        return []
    parts = ["## Latency (ms, batch 1, after warm-up)", "",
             "Runs are spread over several fresh interpreters: one instance's speed depends on "
             "where its buffers land in memory; the range is the p50 of the slowest and "
             "fastest instance.", "",
             table(["model", "p50", "p90", "p99", "mean", "p50 range", "runs", "threads",
                    "kernels"], rows), ""]
    memory = report.memory
    if memory.get("final_rss_growth_kb") is not None:
        parts += ["Resident memory growth from loading and running each model once (in a fresh "
                  f"process): baseline {fmt_bytes(memory.get('baseline_rss_growth_kb'))} KiB,"
                  f" final {fmt_bytes(memory['final_rss_growth_kb'])} KiB.", ""]
    return parts


def _conversion(report: BuildReport) -> list[str]:
    conv = report.conversion
    if not conv:
        return []
    rows = [[name, fmt_bytes(s["bytes"]), fmt_bytes(s["gzip_bytes"]), fmt_ms(s.get("p50_ms"))]
            for name, s in conv["candidates"].items()]
    parts = ["## Conversion", "", f"Quantization: {conv['quantization']['mode']}. "
             f"{conv['decision']}.", "",
             table(["encoding", "bytes", "gzip bytes", "p50 ms"], rows), ""]
    if conv.get("speed_note"):
        parts += [f"Note: {conv['speed_note']}.", ""]
    steps = conv.get("waterfall", [])
    if steps:
        first = steps[0]["gzip_bytes"]
        parts += ["Size after each step:", "",
                  table(["step", "bytes", "gzip bytes", "gzip ratio"],
                        [[s["step"], fmt_bytes(s["bytes"]), fmt_bytes(s["gzip_bytes"]),
                          fmt_ratio(first / s["gzip_bytes"])] for s in steps]), ""]
    if "sizes.png" in report.plots:
        parts += ["![size after each step](sizes.png)", ""]
    return parts


def _structural(report: BuildReport) -> list[str]:
    parts = []
    for step in report.structural:
        rows = [[r["layer"], r["type"], f"{r['width_before']} → {r['width_after']}",
                 f"{r['params_before']:,} → {r['params_after']:,}",
                 f"{r['macs_before']:,} → {r['macs_after']:,}"] for r in step["layers"]]
        parts += [f"## Structural pruning ({step['criterion']}, {step['allocation']})", "",
                  f"Parameters {step['params_before']:,} → {step['params_after']:,}, "
                  f"multiply-accumulates per sample {step['macs_before']:,} → "
                  f"{step['macs_after']:,}; test accuracy right after removal, before "
                  f"fine-tuning: {fmt_pct(step['test_accuracy_before_finetune'])}.", "",
                  table(["layer", "type", "width", "parameters", "MACs"], rows), ""]
        parts += [f"Kept whole: {', '.join(s['layers'])}: {s['reason']}." for s in step["skipped"]]
        parts += [f"Pruned together (residual group): {', '.join(g)}." for g in step["groups"]]
        parts.append("")
    return parts


def _pruning(report: BuildReport) -> list[str]:
    parts = []
    for prune in report.pruning:
        one_shot = prune.get("test_accuracy_before_finetune")
        before = ("" if one_shot is None else
                  f" Test accuracy right after pruning, before fine-tuning: {fmt_pct(one_shot)}.")
        parts += [f"## Pruning: {prune['schedule']['kind']} to {prune['target_sparsity']:.0%} "
                  f"({prune['criterion']})", "",
                  f"Pruned layers: {', '.join(prune['pruned_layers'])}. "
                  f"Schedule: {_figures(prune['schedule'])}.{before}", ""]
        if prune["dense_layers"]:
            parts += ["Layers left dense:", "",
                      table(["layer", "type", "reason"],
                            [[d["layer"], d["type"], d["reason"]] for d in prune["dense_layers"]]),
                      ""]
        parts += [f"Warning: {w}" for w in prune["warnings"]]
    return parts


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


def _figures(outputs: dict[str, Any]) -> str:
    shown = []
    for key, value in outputs.items():
        if isinstance(value, float):
            shown.append(f"{key} {value:.4g}")
        elif isinstance(value, int | str) and not isinstance(value, bool):
            shown.append(f"{key} {value}")
    return ", ".join(shown)
