"""prune2edge: prune, quantize and convert Keras models to small, fast .tflite files.

    import prune2edge
    report = prune2edge.build("models/mnist_cnn.toml", out="build/cnn")
    print(report.sizes["gzip_ratio"], report.accuracy["tflite"])
"""

from .build import build
from .data import Dataset
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
from .pipeline import Pipeline
from .progress import Reporter
from .recipe import Recipe, load_recipe
from .report import BuildReport
from .schedules import ConstantSparsity, PolynomialDecay
from .stages import (
    Convert,
    FineTune,
    Measure,
    Prune,
    Quantize,
    Strip,
    Structural,
    Train,
    Validate,
)

__version__ = "0.1.0"

__all__ = [
    "BudgetError", "BuildFailed", "BuildReport", "ConstantSparsity", "Convert", "DataError",
    "Dataset", "FineTune", "Measure", "ModelError", "OutputError", "Pipeline", "PolynomialDecay",
    "Prune", "Prune2EdgeError", "Quantize", "Recipe", "RecipeError", "Reporter", "Strip",
    "Structural",
    "TFLiteError", "Train", "Validate", "build", "load_recipe",
]
