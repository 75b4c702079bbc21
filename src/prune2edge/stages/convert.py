"""`convert`: write baseline.tflite (dense float32 reference) and model.tflite."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..engine.context import BuildContext, StageRecord
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import RecipeError
from ..inspect.tflite import tensors_and_ops
from ..keras.converter import to_tflite
from ..keras.model import all_layers
from ..quantization.int8 import Int8, plan_int8
from ..report.format import fmt_bytes, fmt_ms, fmt_ratio, table
from ..report.quantization import int8_markdown
from ..report.results import Converted
from ..sizes import Size
from ..tflite.model import TFLiteModel
from ..tflite.runner import TFLiteRunner, model_file
from ..tflite.strip import strip_names
from .validate import Validate

if TYPE_CHECKING:
    from ..report.schema import BuildReport

SPEED_RUNS = 50  # enough to tell a 5% difference at batch 1 on these model sizes


@register_stage
@dataclass(frozen=True, kw_only=True)
class Convert(Stage):
    """TFLite conversion with the quantization plan; `sparse = "auto"` converts with and
    without the sparse encoding and keeps the smaller file by gzip size, or the dense one when
    a validate stage runs it on TensorFlow Lite Micro (no DENSIFY kernel there). `strip_names`
    drops the strings the file does not need to run (`tflite.strip`). int8 builds report each
    op's quantization error (`layer_errors`) and keep the plan's float layers in float."""

    kind: ClassVar[str] = "convert"
    requires = frozenset({Fact.KERAS})
    provides = frozenset({Fact.TFLITE})
    forbids = frozenset({Fact.WRAPPED, Fact.TFLITE})
    Result = Converted

    sparse: Literal["auto", "on", "off"] = "auto"
    strip_names: bool = False  # drop tensor names and signature defs from model.tflite
    layer_errors: bool = True  # int8: measure each op's quantization error for the report

    def summary(self) -> str:
        return f"sparse={self.sparse}" + (", names stripped" if self.strip_names else "")

    def preflight(self, ctx: BuildContext) -> None:
        if self.sparse == "on" and _for_micro(ctx):
            raise RecipeError('sparse = "on" cannot run on TensorFlow Lite Micro, which a '
                              'validate stage with runtime = "auto", "both" or "tflm" runs',
                              "sparse",
                              'use sparse = "auto" or "off" (TFLM has no DENSIFY kernel)')

    def run(self, ctx: BuildContext) -> BuildContext:
        baseline = ctx.tflite.get("baseline")  # converted once per context
        if baseline is None:
            baseline = ctx.setup.work_dir / "baseline.tflite"
            baseline.write_bytes(to_tflite(ctx.baseline_model, None, sparse=False))
        encodings = {"dense": False, "sparse": True}
        if self.sparse != "auto":
            encodings = {"sparse": True} if self.sparse == "on" else {"dense": False}
        plan = ctx.quantization
        int8 = None
        if plan is not None and plan.mode == "int8" and not plan.trained and (
                self.layer_errors or plan.float_layers or plan.control):
            int8 = plan_int8(ctx.model, plan, ctx.setup.reporter)
        files = {name: _encoded(ctx, int8, baseline, flag) for name, flag in encodings.items()}
        left_float = _left_float(next(iter(files.values())), int8) if int8 else {}
        named = dict(files)  # the tensor names say which layer each weight tensor is
        if self.strip_names:
            files = {name: strip_names(content) for name, content in files.items()}
        sizes = {name: Size.of(content) for name, content in files.items()}
        # Smaller gzip wins; on a tie the dense file, which every kernel can run. A file for
        # TensorFlow Lite Micro must be dense: TFLM has no DENSIFY kernel.
        micro = _for_micro(ctx) and "dense" in sizes
        chosen = "dense" if micro else min(
            sizes, key=lambda name: (sizes[name].gzip_bytes, name != "dense"))
        final = ctx.setup.work_dir / "model.tflite"
        final.write_bytes(files[chosen])
        candidates = {name: size.to_dict() for name, size in sizes.items()}
        note = self._compare_speed(ctx, files, candidates, chosen) if len(files) > 1 else ""
        errors = None
        if int8 is not None:
            errors = dict(int8.described)  # a copy: the float ops' cost joins it
            if left_float:
                errors["converter_float_ops"] = left_float
            if int8.float_nodes:
                errors["float_cost"] = self._float_cost(ctx, int8, files[chosen],
                                                        chosen == "sparse")
        return ctx.evolve(tflite={"baseline": baseline, "final": final}, result=Converted(
            int8=errors, quantization=plan.describe() if plan else {"mode": "none"},
            sparse=self.sparse,
            encoding=chosen,
            candidates=candidates,
            decision=_decision(sizes, chosen, self.sparse, micro),
            speed_note=note,
            waterfall=_waterfall(ctx, baseline, sizes, chosen),
            weights=_weights(named[chosen], {
                layer.name: (getattr(layer, "layer", layer).name,
                             {math.prod(w.shape) for w in layer.weights})
                for layer in all_layers(ctx.model)})))

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        return {"conversion": records[-1].result.to_dict()}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        conv = report.conversion
        if not conv:
            return []
        rows = [[name, fmt_bytes(s["bytes"]), fmt_bytes(s["gzip_bytes"]),
                 fmt_ms(s.get("p50_ms"))] for name, s in conv["candidates"].items()]
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
        return parts + (int8_markdown(conv["int8"]) if conv.get("int8") else [])

    def _compare_speed(self, ctx: BuildContext, files: dict[str, bytes],
                       candidates: dict[str, dict], chosen: str) -> str:
        """Time both encodings (batch 1), for the report's table, and call out a chosen
        sparse file that is smaller but slower."""
        for name, p50 in _p50s(files).items():
            candidates[name]["p50_ms"] = p50
        slower = candidates["sparse"]["p50_ms"] / candidates["dense"]["p50_ms"]
        if chosen != "sparse" or slower <= 1.05:
            return ""
        note = (f"the sparse file is smaller but runs {slower:.2f}x slower at batch 1 "
                f"({candidates['sparse']['p50_ms']:.4f} vs {candidates['dense']['p50_ms']:.4f} "
                "ms p50); use sparse = \"off\" if latency matters more than size")
        ctx.setup.reporter.note(note)
        return note


    def _float_cost(self, ctx: BuildContext, int8: Int8, chosen: bytes,
                    sparse: bool) -> dict[str, Any]:
        """Size and batch-1 p50 of the file with ops in float against the all-int8 one, both
        quantized from the same calibration in the chosen encoding."""
        files = {"all_int8": int8.calibrated.quantize((), sparse), "with_float": chosen}
        if self.strip_names:
            files["all_int8"] = strip_names(files["all_int8"])
        p50 = _p50s(files)
        return {role: {**Size.of(content).to_dict(), "p50_ms": p50[role]}
                for role, content in files.items()}


def _p50s(files: dict[str, bytes]) -> dict[str, float]:
    """Batch-1 p50 (ms) of each file, timed in turn."""
    p50 = {}
    for name, content in files.items():
        with model_file(content) as path:
            runner = TFLiteRunner(path)
            sample = np.zeros((1, *runner.input_shape), np.float32)
            p50[name] = runner.latency(sample, runs=SPEED_RUNS, warmup=5).p50
    return p50


def _encoded(ctx: BuildContext, int8: Int8 | None, baseline: Path, sparse: bool) -> bytes:
    """The final model in one encoding: quantized from the calibration with ops kept float,
    the baseline's file when the input model is unchanged and float, or the converter's."""
    plan = ctx.quantization
    if int8 is not None and int8.float_nodes:
        return int8.calibrated.quantize(int8.float_nodes, sparse)
    if not sparse and ctx.model is ctx.baseline_model and (plan is None or plan.mode == "none"):
        return baseline.read_bytes()
    return to_tflite(ctx.model, plan, sparse)


def _for_micro(ctx: BuildContext) -> bool:
    """Whether a later validate stage runs the file on TensorFlow Lite Micro."""
    return any(isinstance(s, Validate) and s.for_micro for s in ctx.control.remaining)


def _waterfall(ctx: BuildContext, baseline: Path, sizes: dict[str, Size],
               chosen: str) -> list[dict]:
    """The size after each step that shrinks the model: pruning, quantization, encoding."""
    plan = ctx.quantization
    mode = plan.mode if plan is not None and plan.mode != "none" else None
    steps = [("baseline (dense float32)", Size.of_file(baseline))]
    if mode:
        steps.append(("pruned, float32",
                      Size.of(to_tflite(ctx.keras_model, None, sparse=False))))
    if "dense" in sizes:
        steps.append((f"{mode} quantized" if mode else "pruned, float32", sizes["dense"]))
    if chosen == "sparse":
        steps.append((f"{mode}, sparse encoding" if mode else "sparse encoding", sizes["sparse"]))
    return [{"step": step, **size.to_dict()} for step, size in steps]


def _decision(sizes: dict[str, Size], chosen: str, mode: str, micro: bool) -> str:
    if mode != "auto":
        return f"sparse = {mode!r}: {chosen} encoding as asked"
    other = "sparse" if chosen == "dense" else "dense"
    if micro:
        return ("dense encoding kept for TensorFlow Lite Micro (a validate stage runs it "
                f"there), which has no DENSIFY kernel: {sizes['dense'].gzip_bytes:,} gzip bytes vs "
                f"{sizes['sparse'].gzip_bytes:,} sparse")
    saved = 1 - sizes[chosen].gzip_bytes / sizes[other].gzip_bytes
    return (f"{chosen} encoding kept: {sizes[chosen].gzip_bytes:,} gzip bytes vs "
            f"{sizes[other].gzip_bytes:,} {other} ({saved:.1%} smaller)")


def _weights(content: bytes, layers: dict[str, tuple[str, set[int]]]) -> list[dict[str, Any]]:
    """Each weight tensor of the file as the kernels compute with it: its Keras layer (see
    `_layer_of`; named as the layer a wrapper wraps), values, zeros and distinct values (in
    all, and the most in one channel of a tensor with per-channel scales)."""
    found = []
    for tensor in tensors_and_ops(TFLiteModel.read(content), "model.tflite")[0]:
        if tensor.role != "weights":
            continue
        values = math.prod(tensor.shape)
        found.append({"layer": _layer_of(tensor.name, values, layers),
                      "values": values, "zeros": round(tensor.zeros * values),
                      "distinct": tensor.distinct,
                      "channel_distinct": tensor.channel_distinct})
    return found


def _layer_of(name: str, values: int, layers: dict[str, tuple[str, set[int]]]) -> str:
    """The Keras layer a weight tensor of `values` values belongs to, by its name's parts: a
    layer of that name with a weight of that size; else one named as a part without its
    trailing `_N` suffixes (Keras 3 graphs name the scope of layer `dense` `dense_1`, of
    `dense_1` `dense_1_2`); else any layer of the name; else the tensor's own name."""
    parts = set(re.split(r"[/;]", name))
    stems = set()
    for part in parts:
        while part not in stems:
            stems.add(part)
            part = re.sub(r"_\d+$", "", part)
    sized = [n for n in sorted(layers) if values in layers[n][1]]
    found = (next((n for n in sized if n in parts), None)
             or next((n for n in sized if n in stems), None)
             or next((n for n in sorted(layers) if n in parts), None))
    return name if found is None else layers[found][0]


def _left_float(content: bytes, int8: Int8) -> dict[str, int]:
    """The ops the converter left in float in an int8 file (it has no int8 kernel for
    them), counted by type; those of the layers kept in float on purpose are not counted."""
    chosen = set(int8.float_nodes)
    ops = [op for op, output in TFLiteModel.read(content).float_ops() if output not in chosen]
    return dict(sorted(Counter(ops).items()))
