"""BuildReport (schema prune2edge.report/1): a finished build's figures, as JSON and Markdown."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ReportError, first_line
from .keras_model import LoadedModel, has_pruning_wrappers, weight_sparsity
from .plots import write_plots
from .sizes import Size, ratio, sha256

if TYPE_CHECKING:
    from .context import BuildContext
    from .pipeline import StageRecord

SCHEMA = "prune2edge.report/1"
NOT_ARTIFACTS = {"report.json", "report.md", "build.log"}
PACKAGES = ("prune2edge", "tensorflow", "tf-keras", "tensorflow-model-optimization",
            "ai-edge-litert", "numpy")


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
    schema: str = SCHEMA
    out_dir: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "out_dir"}
        return {"schema": doc.pop("schema"), **doc}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any], out_dir: Path | None = None) -> BuildReport:
        names = {f.name for f in dataclasses.fields(cls)} - {"out_dir"}
        return cls(**{k: v for k, v in doc.items() if k in names}, out_dir=out_dir)

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
                              "build again to write a fresh report") from None

    def located(self, out_dir: Path) -> BuildReport:
        return dataclasses.replace(self, out_dir=Path(out_dir))

    def write(self, directory: Path) -> None:
        from .markdown import render

        (directory / "report.md").write_text(render(self))
        (directory / "report.json").write_text(self.to_json())


def read_document(path: Path, schema: str, what: str, fix: str) -> dict[str, Any]:
    """One of prune2edge's JSON documents (a report, a baseline), or one clear error."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ReportError(f"no {what} found", str(path), fix) from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the {what} ({first_line(exc)})", str(path), fix) \
            from None
    found = doc.get("schema") if isinstance(doc, dict) else None
    if found != schema:
        raise ReportError(f"not a prune2edge {what} (schema {found!r})", str(path), fix)
    return doc


def assemble(ctx: BuildContext, records: list[StageRecord], *, name: str, seed: int,
             model: LoadedModel, recipe: dict[str, Any], seconds: float,
             resumed: dict[str, Any] | None = None) -> BuildReport:
    """Collect a finished build's figures into a report (sizes are measured here, once)."""
    validation = _last(records, "validate")
    conversion = _last(records, "convert")
    sizes = {role: Size.of_file(path).to_dict() for role, path in ctx.tflite.items()}
    baseline, final = sizes.get("baseline"), sizes.get("final")
    report = BuildReport(
        name=name,
        status="failed" if ctx.failure else "ok",
        failure=ctx.failure,
        resumed=resumed,
        seed=seed,
        recipe=recipe,
        model=model.describe(),
        data=ctx.data.describe(),
        stages=[r.to_dict() for r in records],
        sizes={
            "baseline": baseline,
            "final": final,
            "gzip_ratio": _ratio(baseline, final, "gzip_bytes"),
            "bytes_ratio": _ratio(baseline, final, "bytes"),
            "steps": [{"after": r.name, **r.outputs} for r in records if r.kind == "measure"],
        },
        accuracy=validation.get("accuracy", {}),
        agreement=validation.get("agreement"),
        latency_ms=validation.get("latency_ms", {}),
        memory=validation.get("memory", {}),
        sparsity=None if has_pruning_wrappers(ctx.model) else weight_sparsity(ctx.model),
        pruning=[r.outputs for r in records if r.kind == "prune"],
        structural=[r.outputs for r in records if r.kind == "structural"],
        conversion=conversion or None,
        artifacts={},
        plots=[],
        environment=environment(seed),
        seconds=round(seconds, 3),
    )
    plots = write_plots(report, ctx.work_dir)
    return dataclasses.replace(report, plots=plots, artifacts=_artifacts(ctx.work_dir))


def _last(records: list[StageRecord], kind: str) -> dict[str, Any]:
    found = [r.outputs for r in records if r.kind == kind]
    return found[-1] if found else {}


def _ratio(before: dict | None, after: dict | None, key: str) -> float | None:
    if not before or not after:
        return None
    value = ratio(before[key], after[key])
    return None if value is None else round(value, 4)


def _artifacts(directory: Path) -> dict[str, Any]:
    found = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and rel not in NOT_ARTIFACTS:
            found[rel] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    return found


def environment(seed: int) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "determinism": {
            "seed": seed,
            "tensorflow_op_determinism": True,
            "reproducible": "artifacts and every figure but timings are identical for the same "
                            "recipe, seed, package versions and CPU type",
            "varies_between_runs": ["seconds", "stages[].seconds", "latency_ms", "memory",
                                    "conversion.candidates[].p50_ms", "conversion.speed_note"],
        },
    }

