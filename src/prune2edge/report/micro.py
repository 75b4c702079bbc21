"""The TensorFlow Lite Micro section of report.md and `validate --runtime tflm`: accuracy and
agreement on TFLM, the RAM (tensor arena) and flash a board needs, and which op sets the
arena."""

from __future__ import annotations

from typing import Any

from ..sizes import ratio
from .format import fmt_bytes, fmt_pct, fmt_ratio, table

SHOWN = 5  # ops with the most live activation bytes


def memory_sentence(micro: dict[str, Any]) -> str:
    arena, flash, peak = micro["arena"], micro["flash"], micro["peak_activations"]
    return (f"tensor arena {fmt_bytes(arena['total'])} B ({fmt_bytes(arena['head'])} B "
            f"activations, {fmt_bytes(arena['tail'])} B persistent; smallest arena_size "
            f"accepted: {fmt_bytes(arena['smallest'])} B); flash {fmt_bytes(flash['file_bytes'])}"
            f" B ({fmt_bytes(flash['stripped_bytes'])} B with names stripped); the most "
            f"activation bytes live at once: {fmt_bytes(peak['live_bytes'])} B at op "
            f"{peak['index']} ({peak['op']}, {short(peak['output'])})")


def predicted_sentence(predicted: dict[str, Any]) -> str:
    """The arena predicted from the file (tflite.arena), and the ops it could not model."""
    unmodelled = predicted["unmodelled"]
    missing = (f"; without the persistent data of {', '.join(unmodelled)} (not modelled)"
               if unmodelled else "")
    return (f"{fmt_bytes(predicted['total'])} B ({fmt_bytes(predicted['head'])} B "
            f"activations, {fmt_bytes(predicted['tail'])} B persistent{missing})")


def agreement_sentence(micro: dict[str, Any]) -> str:
    agree = micro.get("agreement")
    if not agree:
        return ""
    if "step" in agree:
        return (f"agreement with LiteRT: {fmt_pct(agree['top1'])} top-1, "
                f"{fmt_pct(agree['within_one_step'])} of samples within one output step "
                f"({agree['step']:.4g}; at most {agree['max_steps']:.2f} steps apart)")
    return (f"agreement with LiteRT: {fmt_pct(agree['top1'])} top-1, outputs at most "
            f"{agree['max_abs_diff']:.3g} apart")


def micro_markdown(micro: dict[str, Any]) -> list[str]:
    if "skipped" in micro:
        flash = micro["flash"]
        return ["## TensorFlow Lite Micro", "", f"{micro['skipped']}.", "",
                f"Flash for the model: {fmt_bytes(flash['file_bytes'])} B "
                f"({fmt_bytes(flash['stripped_bytes'])} B with names stripped).", ""]
    ops = ", ".join(f"{op} ×{count}" for op, count in micro["ops"].items())
    rows = [[op["index"], op["op"], short(op["output"]), fmt_bytes(op["live_bytes"])]
            for op in sorted(micro["activations"], key=lambda o: -o["live_bytes"])[:SHOWN]]
    agreement = agreement_sentence(micro)
    baseline = micro.get("baseline")
    compared = [] if not baseline else [
        f"The baseline (dense float32) needs {memory_sentence(baseline)}: the final model's "
        f"arena is {_smaller(baseline, micro, 'arena', 'total')} and its flash "
        f"{_smaller(baseline, micro, 'flash', 'file_bytes')} smaller.", ""]
    return ["## TensorFlow Lite Micro", "",
            f"The final model on {micro['runtime']} (its reference kernels, on this CPU): "
            f"accuracy {fmt_pct(micro['accuracy'])} on {micro['test_samples']:,} test "
            f"samples" + (f"; {agreement}" if agreement else "") + ".", "",
            f"What a board needs: {memory_sentence(micro)}.", "", *compared, f"Ops: {ops}.", "",
            "Activation bytes alive while each op runs (inputs, outputs and tensors a later "
            "op still reads; TFLM's planner must fit the largest):", "",
            table(["op #", "op", "output", "live bytes"], rows), ""]


def _smaller(baseline: dict[str, Any], micro: dict[str, Any], part: str, key: str) -> str:
    return fmt_ratio(ratio(baseline[part][key], micro[part][key]))


def short(name: str) -> str:
    """'model/conv/Relu;model/conv/BiasAdd;...' -> 'model/conv/Relu'."""
    return name.split(";")[0]
