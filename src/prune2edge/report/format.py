"""Markdown building blocks shared by report.md, stage sections, the CI gate and scans."""

from __future__ import annotations

from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_bytes(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}x"


def fmt_ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def figures(outputs: dict[str, Any]) -> str:
    """A stage's scalar outputs as 'key value, ...'."""
    shown = []
    for key, value in outputs.items():
        if isinstance(value, float):
            shown.append(f"{key} {value:.4g}")
        elif isinstance(value, int | str) and not isinstance(value, bool):
            shown.append(f"{key} {value}")
    return ", ".join(shown)
