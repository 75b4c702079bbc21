"""BuildReport (schema prune2edge.report/1): a finished build's figures; report.json."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ReportError, first_line

SCHEMA = "prune2edge.report/1"


@dataclass(frozen=True)
class BuildReport:
    """What a build made and measured. `to_dict()` is the stable report.json document."""

    name: str
    status: str
    seed: int
    recipe: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    stages: list[dict[str, Any]]
    sizes: dict[str, Any]
    accuracy: dict[str, Any]
    agreement: dict[str, Any] | None
    latency_ms: dict[str, Any]
    memory: dict[str, Any]
    sparsity: dict[str, Any] | None
    pruning: list[dict[str, Any]]
    structural: list[dict[str, Any]]
    conversion: dict[str, Any] | None
    artifacts: dict[str, Any]
    plots: list[str]
    environment: dict[str, Any]
    seconds: float
    failure: str | None = None
    resumed: dict[str, Any] | None = None
    micro: dict[str, Any] | None = None  # the final model on TensorFlow Lite Micro
    budgets: dict[str, Any] | None = None  # each [budgets] limit's verdict, gated or not
    warnings: list[str] = field(default_factory=list)  # what the user must not overlook
    # Fields stage kinds add that this class does not name (a third-party stage's): report.json
    # holds them at the top level, after the others.
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA
    out_dir: Path | None = field(default=None, compare=False)

    @classmethod
    def named(cls) -> frozenset[str]:
        """The report.json fields this class names (the rest go to `extra`)."""
        return frozenset(f.name for f in dataclasses.fields(cls)) - {"extra", "out_dir"}

    def to_dict(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("extra", "out_dir")}
        return {"schema": doc.pop("schema"), **doc, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any], out_dir: Path | None = None) -> BuildReport:
        named = cls.named()
        return cls(**{k: v for k, v in doc.items() if k in named},
                   extra={k: v for k, v in doc.items() if k not in named}, out_dir=out_dir)

    @classmethod
    def load(cls, path: Path) -> BuildReport:
        """Read report.json, or the report.json inside a build directory."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        doc = read_document(path, SCHEMA, "report",
                            "give a build directory (or its report.json) from prune2edge build")
        try:
            return cls.from_dict(doc, out_dir=path.parent)
        except TypeError as exc:
            raise ReportError(f"the report is incomplete ({first_line(exc)})", str(path),
                              "build again to write a fresh report") from exc

    def located(self, out_dir: Path) -> BuildReport:
        return dataclasses.replace(self, out_dir=Path(out_dir))


def read_document(path: Path, schema: str, what: str, fix: str) -> dict[str, Any]:
    """One of prune2edge's JSON documents (a report, a baseline), or one clear error."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ReportError(f"no {what} found", str(path), fix) from exc
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the {what} ({first_line(exc)})", str(path), fix) \
            from exc
    found = doc.get("schema") if isinstance(doc, dict) else None
    if found != schema:
        raise ReportError(f"not a prune2edge {what} (schema {found!r})", str(path), fix)
    return doc
