"""A sensitivity scan written out: sensitivity.json, sensitivity.md and sensitivity.png."""

from __future__ import annotations

import json
from pathlib import Path

from .. import _compat
from ..engine.outdir import BuildDir
from .scan import Sensitivity


def write(result: Sensitivity, out: Path, force: bool = False) -> None:
    """sensitivity.json, sensitivity.md and sensitivity.png in `out`, all or nothing."""
    with BuildDir(out, force) as build_dir:
        staging = build_dir.staging
        (staging / "sensitivity.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        (staging / "sensitivity.md").write_text(result.markdown())
        _plot(result, staging / "sensitivity.png")
        build_dir.commit()


def _plot(result: Sensitivity, path: Path) -> None:
    plt = _compat.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    percent = [r * 100 for r in result.ratios]
    for row in result.layers:
        ax.plot(percent, [a * 100 for a in row["accuracy"]], marker="o",
                label=f"{row['layer']} ({row['type']})")
    ax.axhline(result.baseline_accuracy * 100, color="gray", linestyle="--", label="unpruned")
    ax.set_xlabel("share of weights zeroed (%)" if result.mode == "magnitude"
                  else "share of units/filters removed (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{result.name}: per-layer sensitivity ({result.criterion}, no fine-tuning)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
