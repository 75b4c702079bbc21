"""`validate`: accuracy, agreement with Keras, latency and memory of baseline and final .tflite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..engine.context import BuildContext, StageRecord
from ..engine.facts import Fact
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..errors import RecipeError
from ..keras.model import predict
from ..metrics import hits
from ..report.format import fmt_bytes, fmt_ms, table
from ..report.micro import micro_markdown
from ..report.results import Validated
from ..report.stats import Paired, interval
from ..requirements import LITERT, TENSORFLOW, TF_KERAS, TFLM, Requirement
from ..sizes import ratio
from ..tflite.micro import MicroRunner, board_memory, flash
from ..tflite.validator import check_files

if TYPE_CHECKING:
    from ..report.schema import BuildReport

REPORTED = ("accuracy", "agreement", "latency_ms", "memory", "micro")
CHANCE_MARGIN = 1.5  # a baseline below 1.5x the accuracy of guessing is near chance


@register_stage
@dataclass(frozen=True, kw_only=True)
class Validate(Stage):
    """Runs both .tflite files on the CPU over the whole test split (batched), times
    single-sample invocations after warm-up, and compares the final one with Keras.
    `runtime = "both"` (or `"tflm"`) also runs the final file on TensorFlow Lite Micro: its
    accuracy, its agreement with LiteRT, the ops, the tensor arena and the flash it needs;
    `"auto"` does so where tflite-micro is installed and says so where it is not. Every
    runtime but `"litert"` makes the convert stage keep the dense encoding, which TFLM can
    run, so the file does not depend on what is installed."""

    kind: ClassVar[str] = "validate"
    requires = frozenset({Fact.TFLITE})
    needs = (TENSORFLOW, TF_KERAS, LITERT)
    Result = Validated

    threads: int = 1
    runs: int = 500  # timed batch-1 invocations, spread over `interpreters` instances
    warmup: int = 20
    interpreters: int = 5  # fresh interpreters the timing pools (see runtime.latency)
    batch_size: int = 256
    memory: bool = True  # resident memory growth, measured in a fresh process per model
    min_agreement: float = 0.98  # share of test samples where Keras and .tflite pick one class
    # TensorFlow Lite Micro as well: "both" (or "tflm") always, "auto" where it is installed
    runtime: Literal["litert", "auto", "both", "tflm"] = "litert"

    def __post_init__(self) -> None:
        for name in ("threads", "runs", "batch_size", "interpreters"):
            if getattr(self, name) < 1:
                raise RecipeError(f"{name} must be >= 1, got {getattr(self, name)}", name,
                                  "use a positive count")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise RecipeError(f"min_agreement must be in [0, 1], got {self.min_agreement}",
                              "min_agreement", "use e.g. 0.98 (0 turns the check off)")
        if self.warmup < 0:
            raise RecipeError(f"warmup must be >= 0, got {self.warmup}", "warmup",
                              "use e.g. 20 untimed runs")

    def summary(self) -> str:
        return f"{self.runs} timed runs, {self.threads} thread(s)"

    @property
    def for_micro(self) -> bool:
        """Whether the file must run on TensorFlow Lite Micro (where it is installed)."""
        return self.runtime != "litert"

    def requirements(self) -> tuple[Requirement, ...]:
        if self.runtime in ("both", "tflm"):
            return (*self.needs, TFLM.without(
                f'or set runtime = "auto" (now {self.runtime!r}) to run it where installed'))
        return self.needs

    def run(self, ctx: BuildContext) -> BuildContext:
        skipped = None
        if self.runtime == "auto" and not TFLM.installed():
            skipped = (f"TensorFlow Lite Micro skipped: {TFLM.package} is not installed; "
                       f"{TFLM.fix()} to run the file on it")
            ctx.setup.reporter.note(skipped)
        checked = check_files(
            dict(ctx.tflite), ctx.setup.data, "final", micro=self.for_micro and skipped is None,
            reference=lambda x: predict(ctx.model, x, self.batch_size), threads=self.threads,
            runs=self.runs, warmup=self.warmup, interpreters=self.interpreters,
            batch_size=self.batch_size, memory=self.memory, reporter=ctx.setup.reporter)
        figures, labels = checked.litert, ctx.setup.data.y_test
        base, final = figures["baseline"], figures["final"]
        keras_accuracy, agree = checked.compared()  # LiteRT and Keras both ran
        accuracy = {"baseline": base.accuracy, "keras": keras_accuracy,
                    "tflite": final.accuracy, "test_samples": final.samples,
                    "change_pt": round((final.accuracy - base.accuracy) * 100, 4),
                    **{f"{role}_95": interval(value, final.samples) for role, value in (
                        ("baseline", base.accuracy), ("keras", keras_accuracy),
                        ("tflite", final.accuracy))},
                    "paired": Paired.of(hits(base.outputs, labels),
                                        hits(final.outputs, labels)).to_dict()}
        latency: dict[str, Any] = {role: {**f.latency.to_dict(), "fallback": f.fallback}
                                   for role, f in figures.items()}
        speedup = ratio(base.latency.p50, final.latency.p50)
        latency["speedup_p50"] = None if speedup is None else round(speedup, 4)
        memory = {f"{role}_rss_growth_kb": f.rss_kb for role, f in figures.items()}
        chance = near_chance(base.accuracy, ctx.setup.data.num_classes)
        if chance:
            ctx.setup.reporter.warning(chance)
        pairs = [("Keras and the .tflite", agree["top1"])]
        micro = checked.micro
        if skipped:
            micro = {"skipped": skipped, "flash": flash(ctx.tflite["final"].read_bytes())}
        elif micro is not None:
            baseline = ctx.tflite["baseline"]
            micro["baseline"] = board_memory(MicroRunner(baseline.read_bytes(), str(baseline)))
            pairs.append(("TensorFlow Lite Micro and LiteRT", micro["agreement"]["top1"]))
        ctx = ctx.with_result(Validated(accuracy=accuracy, agreement=agree, latency_ms=latency,
                                        memory=memory, warnings=[chance] if chance else None,
                                        micro=micro))
        for who, agreed in pairs:
            if agreed < self.min_agreement:
                return ctx.evolve(failure=(
                    f"{who} pick different classes for {1 - agreed:.2%} of test samples "
                    f"(tolerance {1 - self.min_agreement:.2%})"))
        return ctx

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        last = records[-1].result.to_dict()
        return {key: last[key] for key in REPORTED if key in last}

    @classmethod
    def markdown(cls, report: BuildReport) -> list[str]:
        rows = []
        for role in ("baseline", "final"):
            lat = report.latency_ms.get(role)
            if lat:
                fallback = f" ({lat['fallback']})" if lat.get("fallback") else ""
                low, high = lat.get("p50_range") or (None, None)
                rows.append([role, fmt_ms(lat["p50"]), fmt_ms(lat["p90"]), fmt_ms(lat["p99"]),
                             fmt_ms(lat["mean"]), f"{fmt_ms(low)}–{fmt_ms(high)}", lat["runs"],
                             lat["threads"], lat["kernels"] + fallback])
        if not rows:
            return []
        parts = ["## Latency (ms, batch 1, after warm-up)", "",
                 "Runs are spread over several fresh interpreters: one instance's speed depends "
                 "on where its buffers land in memory; the range is the p50 of the slowest and "
                 "fastest instance.", "",
                 table(["model", "p50", "p90", "p99", "mean", "p50 range", "runs", "threads",
                        "kernels"], rows), ""]
        memory = report.memory
        if memory.get("final_rss_growth_kb") is not None:
            parts += ["Resident memory growth from loading and running each model once (in a "
                      f"fresh process): baseline {fmt_bytes(memory.get('baseline_rss_growth_kb'))}"
                      f" KiB, final {fmt_bytes(memory['final_rss_growth_kb'])} KiB.", ""]
        return parts + (micro_markdown(report.micro) if report.micro else [])


def near_chance(accuracy: float, classes: int) -> str | None:
    """A warning when the baseline is no better than guessing: every ratio would compare
    against a model that has not learnt the task (untrained, or fed data it cannot read)."""
    if accuracy >= CHANCE_MARGIN / classes:
        return None
    return (f"the baseline's accuracy, {accuracy:.2%}, is near chance for {classes} classes "
            f"({1 / classes:.2%}): it has not learnt this data (is it trained? do the data's "
            "scale and labels match what it was trained on?), so the figures compare against "
            "a guesser")
