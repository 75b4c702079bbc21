"""The int8 section of report.md and `inspect`: each op's quantization error, the ops kept in
float and why, and what keeping them cost."""

from __future__ import annotations

from typing import Any

from .format import fmt_bytes, fmt_ms, fmt_pct, table

SHOWN = 10  # worst ops listed


def label(error: dict[str, Any]) -> str:
    """"conv, relu (CONV_2D)": the Keras layers fused into the op, and the op."""
    return f"{', '.join(error['layers']) or error['node']} ({error['op']})"


def error_rows(int8: dict[str, Any], limit: int | None = SHOWN) -> tuple[list[str], list[list]]:
    """Header and rows of the per-op error table, worst first: the final file's errors, or
    with ops kept in float, the all-int8 errors next to the final ones."""
    final = {e["node"]: e for e in int8["layer_errors"]}
    before = int8.get("all_int8_errors")
    if before is None:
        rows = [[label(e), _share(e["error"]), _steps(e["steps"])]
                for e in int8["layer_errors"][:limit]]
        return ["layer (op)", "error", "RMS error in steps"], rows
    rows = []
    for e in before[:limit]:
        after = final.get(e["node"])
        rows.append([label(e), _share(e["error"]), _steps(e["steps"]),
                     "float" if after is None else _share(after["error"]),
                     "–" if after is None else _steps(after["steps"])])
    return ["layer (op)", "error, all int8", "steps, all int8", "error, final",
            "steps, final"], rows


def int8_markdown(int8: dict[str, Any]) -> list[str]:
    header, rows = error_rows(int8)
    parts = ["## int8 error per layer", "",
             f"Each quantized op's output against its float twin on the same input, over "
             f"{int8['probe_samples']} held-out training samples (TensorFlow's quantization "
             "debugger), worst first: RMS error over RMS value per channel (0% exact, 100% "
             "the signal lost; softmax-like ops over the whole tensor), and in quantization "
             "steps (0.29 is ideal rounding).", "", table(header, rows), ""]
    if int8["float_layers"]:
        parts += [f"Kept in float: {', '.join(int8['float_layers'])}.", ""]
    left = int8.get("converter_float_ops")
    if left:
        ops = ", ".join(f"{op} x{count}" for op, count in left.items())
        parts += [f"Left in float by the converter, which has no int8 kernel for them: {ops} "
                  "(between DEQUANTIZE and QUANTIZE ops).", ""]
    control = int8.get("accuracy_control")
    if control:
        parts += _control_markdown(control)
    cost = int8.get("float_cost")
    if cost:
        low, high = cost["all_int8"], cost["with_float"]
        parts += [f"Cost of the float ops: {fmt_bytes(low['bytes'])} → "
                  f"{fmt_bytes(high['bytes'])} bytes ({fmt_bytes(low['gzip_bytes'])} → "
                  f"{fmt_bytes(high['gzip_bytes'])} gzip), p50 {fmt_ms(low['p50_ms'])} → "
                  f"{fmt_ms(high['p50_ms'])} ms (batch 1).", ""]
    return parts


def _control_markdown(control: dict[str, Any]) -> list[str]:
    goal = f"agreement with Keras ≥ {fmt_pct(control['min_agreement'])}"
    if control["max_drop"] is not None:
        goal += f" and an accuracy drop ≤ {control['max_drop']} pt"
    rows = [[", ".join(a["float_layers"]) or "none", fmt_pct(a["agreement"]),
             f"{a['change_pt']:+.2f}", fmt_bytes(a["bytes"])] for a in control["attempts"]]
    verdict = ("met" if control["met"] else
               f"**not met** with up to {control['max_float_layers']} more ops in float; the "
               "file keeps only the recipe's float layers")
    return [f"Accuracy control ({goal}, on {control['samples']} held-out training samples): "
            f"{verdict}.", "",
            table(["kept in float", "agreement", "accuracy change vs Keras (pt)", "bytes"],
                  rows), ""]


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _steps(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
