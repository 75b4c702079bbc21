"""`measure`: bytes and gzip bytes of the model as it is at this point of the pipeline."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

from .. import _compat
from ..context import BuildContext
from ..keras_model import has_pruning_wrappers
from ..sizes import Size
from .base import Stage


@dataclass(frozen=True, kw_only=True)
class Measure(Stage):
    """Size of the Keras model (saved as .h5 without optimizer, as tfmot's guides measure it)
    and of every .tflite written so far, all with the one gzip definition in `sizes`."""

    kind: ClassVar[str] = "measure"

    def run(self, ctx: BuildContext) -> BuildContext:
        model = ctx.model
        if has_pruning_wrappers(model):  # wrappers carry masks: measure what strip would give
            model = _compat.tfmot_sparsity().strip_pruning(model)
        path = ctx.work_dir / ".measure.h5"
        try:
            with warnings.catch_warnings():  # "HDF5 is legacy": it is what tfmot measures
                warnings.simplefilter("ignore")
                _compat.keras().models.save_model(model, path, include_optimizer=False)
            sizes = {"keras_h5": Size.of_file(path).to_dict()}
        finally:
            path.unlink(missing_ok=True)
        for tflite in ctx.tflite.values():
            sizes[tflite.name] = Size.of_file(tflite).to_dict()
        return ctx.with_outputs(**sizes)
