"""What the optional parts of prune2edge need installed, checked before any work starts.

Stages declare their requirements (`Stage.requirements`); a build checks them all first, so a
missing package is one line with the install command within seconds, never a failure after
training. Checking only looks the modules up; nothing is imported.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import DependencyError

BUILD_EXTRA = "pip install 'prune2edge[build]'"


@dataclass(frozen=True)
class Requirement:
    """A module some work imports, the package that provides it, and how to install it."""

    module: str
    package: str
    install: str = BUILD_EXTRA
    platforms: str = ""  # where the package exists, when not everywhere
    instead: str = ""  # what the user can do without it

    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # a parent package is missing or broken
            return False

    def fix(self) -> str:
        where = f" ({self.platforms})" if self.platforms else ""
        return f"install it with {self.install}{where}" + (f", {self.instead}" if self.instead
                                                           else "")

    def error(self, where: str | None = None, detail: str = "") -> DependencyError:
        why = f" ({detail})" if detail else ""
        return DependencyError(f"{self.package} is not installed{why}", where, self.fix())

    def without(self, instead: str) -> Requirement:
        """This requirement, saying what to do without it."""
        return dataclasses.replace(self, instead=instead)


TENSORFLOW = Requirement("tensorflow", "TensorFlow")
TF_KERAS = Requirement("tf_keras", "tf-keras")
TFMOT = Requirement("tensorflow_model_optimization", "tensorflow-model-optimization")
MATPLOTLIB = Requirement("matplotlib", "matplotlib")
LITERT = Requirement("ai_edge_litert", "ai-edge-litert", "pip install ai-edge-litert")
TFLM = Requirement("tflite_micro", "tflite-micro", "pip install 'prune2edge[micro]'",
                   "published for Linux x86-64 only")
TENSORBOARD = Requirement("tensorboard", "TensorBoard", "pip install 'prune2edge[tensorboard]'")
# What every build needs: loading and training models, checkpoints, plots.
BUILD = (TENSORFLOW, TF_KERAS, TFMOT, MATPLOTLIB, LITERT)


def check(needed: Iterable[tuple[Requirement, str | None]]) -> None:
    """Raise DependencyError for the first requirement not installed, naming who needs it."""
    for requirement, where in needed:
        if not requirement.installed():
            raise requirement.error(where)
