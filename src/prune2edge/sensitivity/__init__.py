"""Per-layer sensitivity: test accuracy as one layer at a time loses weights or channels."""

from .output import write
from .scan import Sensitivity, scan

__all__ = ["Sensitivity", "scan", "write"]
