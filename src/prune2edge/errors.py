"""One error hierarchy; the CLI turns each into one line and an exit code."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable
from typing import Any


class Prune2EdgeError(Exception):
    """A problem the user can fix: what went wrong, where, and how to fix it."""

    exit_code = 1

    def __init__(self, what: str, where: str | None = None, fix: str | None = None):
        super().__init__(what)
        self.what = what
        self.where = where
        self.fix = fix

    def located(self, prefix: str) -> Prune2EdgeError:
        """A copy of this error with `prefix` put in front of its location; every other
        attribute (a failed build's `report`, say) and the cause are kept."""
        located = copy.copy(self)
        located.where = f"{prefix}: {self.where}" if self.where else prefix
        located.__cause__ = self.__cause__
        return located

    def __str__(self) -> str:
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.fix:
            text += f": {self.fix}"
        return text


class RecipeError(Prune2EdgeError):
    """The recipe (or a --set override, or a stage's parameters) is wrong."""


class ModelError(Prune2EdgeError):
    """The model source cannot be loaded or does not fit the pipeline."""


class Unquantizable(ModelError):
    """Quantization-aware training has no fake int8 for a layer, and float was not allowed."""

    @classmethod
    def of(cls, layer: str, reason: str) -> Unquantizable:
        return cls(f"layer {layer!r} cannot train quantization-aware: {reason}", None,
                   "set allow_float = true to leave such layers in float (the .tflite then "
                   "mixes float and int8 ops)")


class DataError(Prune2EdgeError):
    """The data source cannot be loaded or does not fit the model."""


class OutputError(Prune2EdgeError):
    """The output directory cannot be used."""


class TFLiteError(Prune2EdgeError):
    """A .tflite file cannot be read or run."""


class ReportError(Prune2EdgeError):
    """A report or baseline file cannot be read or is not what `check` needs."""


class DependencyError(Prune2EdgeError):
    """An optional dependency (TensorFlow, tfmot, matplotlib) is missing."""


class BuildFailed(Prune2EdgeError):
    """Work started but could not produce a trustworthy model (e.g. NaN loss). When the
    build got as far as a report, `report` is it (written, and marked failed)."""

    exit_code = 4
    report: Any = None  # the BuildReport, when there is one


class Interrupted(Prune2EdgeError):
    """The user stopped the build (Ctrl-C, SIGTERM); it stopped cleanly."""

    exit_code = 130


class BudgetError(Prune2EdgeError):
    """A size, latency or accuracy budget does not hold."""

    exit_code = 3


def first_line(exc: BaseException) -> str:
    """The first line of a library's exception message, for a one-line error."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest spelling of `word` among `choices`, if any is close (for "did you mean")."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None
