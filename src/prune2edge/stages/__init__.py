"""Stage kinds, registered by the `kind` name recipes use."""

from .base import Stage
from .convert import Convert
from .finetune import FineTune
from .measure import Measure
from .prune import Prune
from .quantize import Quantize
from .strip import Strip
from .structural import Structural
from .train import Train
from .validate import Validate

REGISTRY: dict[str, type[Stage]] = {
    cls.kind: cls for cls in (Train, Structural, Prune, FineTune, Strip, Measure, Quantize,
                              Convert, Validate)
}

__all__ = ["REGISTRY", "Convert", "FineTune", "Measure", "Prune", "Quantize", "Stage", "Strip",
           "Structural", "Train", "Validate"]
