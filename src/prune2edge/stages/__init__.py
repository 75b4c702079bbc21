"""The built-in stage kinds, one module each, registered with `@register_stage` by the `kind`
name recipes use. Importing this package registers them in pipeline order, the order error
messages list kinds in (hence the unsorted imports)."""

# ruff: noqa: I001

from .train import Train
from .baseline import Baseline
from .structural import Structural
from .prune import Prune
from .cluster import Cluster
from .finetune import FineTune
from .strip import Strip
from .measure import Measure
from .quantize import Quantize
from .qat import Qat
from .convert import Convert
from .validate import Validate

__all__ = ["Baseline", "Cluster", "Convert", "FineTune", "Measure", "Prune", "Qat", "Quantize",
           "Strip", "Structural", "Train", "Validate"]
