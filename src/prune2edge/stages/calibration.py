"""The calibration parameters that `prune` and `structural` share (OBD, OBS, the refit)."""

from __future__ import annotations

from ..errors import RecipeError


def check_calibration(samples: int, damping: float) -> None:
    """Raise a RecipeError for a calibration sample count or Hessian damping out of range."""
    if samples < 1:
        raise RecipeError(f"calibration_samples must be >= 1, got {samples}",
                          "calibration_samples", "use e.g. 256")
    if not 0.0 < damping <= 1.0:
        raise RecipeError(f"damping must be in (0, 1], got {damping}", "damping",
                          "use e.g. 0.01 (1% of the Hessian's mean diagonal)")
