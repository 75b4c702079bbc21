"""prune2edge: prune, quantize and convert Keras models to small, fast .tflite files.

    import prune2edge
    report = prune2edge.build("models/mnist_cnn.toml", out="build/cnn")
    print(report.sizes["gzip_ratio"], report.accuracy["tflite"])

This module is the public API: it only re-exports, so the implementation can move.
"""

__version__ = "0.1.0"

from .data import Dataset
from .engine.context import BuildContext, StageRecord
from .engine.facts import Fact
from .engine.options import BuildOptions
from .engine.pipeline import Pipeline
from .engine.registry import register_stage
from .engine.stage import Stage
from .errors import (
    BudgetError,
    BuildFailed,
    DataError,
    ModelError,
    OutputError,
    Prune2EdgeError,
    RecipeError,
    TFLiteError,
)
from .keras.from_keras3 import register_keras3_translation
from .progress import Reporter
from .recipe import Recipe, build, load_recipe
from .report.budgets import Figure, register_budget
from .report.gate import run_check
from .report.results import StageResult, Trained
from .report.schema import BuildReport
from .sparsity.schedules import ConstantSparsity, PolynomialDecay
from .stages import (
    Baseline,
    Cluster,
    Convert,
    FineTune,
    Measure,
    Prune,
    Qat,
    Quantize,
    Strip,
    Structural,
    Train,
    Validate,
)
from .stages.training import TrainingStage

__all__ = [
    "Baseline", "BudgetError", "BuildContext", "BuildFailed", "BuildOptions", "BuildReport",
    "Cluster", "ConstantSparsity", "Convert", "DataError", "Dataset", "Fact", "Figure", "FineTune",
    "Measure", "ModelError", "OutputError", "Pipeline", "PolynomialDecay", "Prune",
    "Prune2EdgeError", "Qat", "Quantize", "Recipe", "RecipeError", "Reporter", "Stage",
    "StageRecord", "StageResult", "Strip", "Structural", "TFLiteError", "Train", "Trained",
    "TrainingStage", "Validate", "build", "load_recipe", "register_budget",
    "register_keras3_translation", "register_stage", "run_check",
]
