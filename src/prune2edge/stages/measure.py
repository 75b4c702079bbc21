"""`measure`: bytes and gzip bytes of the model as it is at this point of the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..engine.context import BuildContext, StageRecord
from ..engine.registry import register_stage
from ..engine.stage import Stage
from ..report.results import Measured
from ..sizes import Size


@register_stage
@dataclass(frozen=True, kw_only=True)
class Measure(Stage):
    """Size of the Keras model (saved as .h5 without optimizer, as tfmot's guides measure it)
    and of every .tflite written so far, all with the one gzip definition in `sizes`."""

    kind: ClassVar[str] = "measure"
    Result = Measured

    def run(self, ctx: BuildContext) -> BuildContext:
        path = ctx.setup.work_dir / ".measure.h5"
        try:  # a pruning model is measured as strip would leave it
            ctx.setup.engine.save_plain(ctx.keras_model, path)
            sizes = {"keras_h5": Size.of_file(path)}
        finally:
            path.unlink(missing_ok=True)
        for tflite in ctx.tflite.values():
            sizes[tflite.name] = Size.of_file(tflite)
        return ctx.with_result(Measured(sizes=sizes))

    @classmethod
    def report_fields(cls, records: Sequence[StageRecord]) -> dict[str, Any]:
        return {"sizes": {"steps": [{"after": r.name, **r.result.to_dict()} for r in records]}}
