"""PNG plots written next to the report: per-layer sparsity and the size waterfall."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import _compat

if TYPE_CHECKING:
    from .schema import BuildReport

SPARSITY_PNG = "sparsity.png"
SIZES_PNG = "sizes.png"


def write_plots(report: BuildReport, directory: Path) -> list[str]:
    """Draw the plots the report has data for; return the file names written."""
    written = []
    if report.sparsity and report.sparsity["layers"]:
        _sparsity(report, directory / SPARSITY_PNG)
        written.append(SPARSITY_PNG)
    if report.conversion and report.conversion.get("waterfall"):
        _sizes(report, directory / SIZES_PNG)
        written.append(SIZES_PNG)
    return written


def _sparsity(report: BuildReport, path: Path) -> None:
    plt = _compat.pyplot()
    sparsity = report.sparsity or {}
    layers = sparsity["layers"]
    names = [f"{layer['layer']} ({layer['type']})" for layer in layers]
    shares = [layer["sparsity"] * 100 for layer in layers]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(layers) + 1.4))
    bars = ax.barh(names, shares, color="#3b7dd8")
    ax.bar_label(bars, labels=[f"{s:.1f}%" for s in shares], padding=3)
    ax.set_xlim(0, 110)
    ax.invert_yaxis()
    ax.set_xlabel("share of kernel weights that are exactly zero (%)")
    ax.set_title(f"{report.name}: weight sparsity per layer "
                 f"(overall {sparsity['overall']:.1%})")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _sizes(report: BuildReport, path: Path) -> None:
    plt = _compat.pyplot()
    steps = (report.conversion or {})["waterfall"]
    labels = [s["step"] for s in steps]
    raw = [s["bytes"] / 1024 for s in steps]
    packed = [s["gzip_bytes"] / 1024 for s in steps]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    positions = range(len(steps))
    ax.bar([p - 0.2 for p in positions], raw, width=0.4, color="#b8c7e0", label="bytes")
    bars = ax.bar([p + 0.2 for p in positions], packed, width=0.4, color="#3b7dd8",
                  label="gzip bytes")
    first = steps[0]["gzip_bytes"]
    ax.bar_label(bars, labels=[f"{first / s['gzip_bytes']:.1f}x" for s in steps], padding=2)
    ax.set_xticks(list(positions), labels, rotation=12, ha="right")
    ax.set_ylabel("KiB")
    ax.set_title(f"{report.name}: size after each step (gzip ratio vs baseline)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
