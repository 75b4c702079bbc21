"""Per-epoch checkpoints of a build, so an interrupted one resumes instead of starting over.

They live in OUT/.prune2edge-resume/ while a build runs or after it was interrupted, and are
removed when a build commits. Every file is written under a temporary name and renamed, with
state.json last, so a checkpoint is either whole or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError
from ..keras.files import load_own

if TYPE_CHECKING:
    from .context import BuildContext, StageRecord

RESUME_DIR = ".prune2edge-resume"
STATE = "state.json"


def fingerprint(recipe: dict[str, Any], seed: int) -> str:
    """What must match for a checkpoint to belong to a build (the recipe as run, the seed)."""
    doc = {k: v for k, v in recipe.items() if k != "path"}
    text = json.dumps({"recipe": doc, "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class ResumePoint:
    """Where a build stopped: stage `stage_index` (1-based) had run `epochs_done` epochs."""

    stage_index: int
    epochs_done: int
    epoch_logs: list[dict[str, float]]  # the finished epochs' logs of that stage
    records: list[dict[str, Any]]  # the stages finished before it
    model: Any
    baseline_model: Any
    models: Mapping[str, Any] = field(default_factory=dict)  # the context's further models

    def describe(self) -> dict[str, Any]:
        return {"stage": self.stage_index, "epochs_done": self.epochs_done,
                "stages_skipped": [r["name"] for r in self.records]}


class Checkpointer:
    def __init__(self, out_dir: Path, fingerprint: str):
        self.directory = Path(out_dir) / RESUME_DIR
        self.fingerprint = fingerprint

    def save(self, *, stage_index: int, epochs_done: int, epoch_logs: list[dict[str, float]],
             records: list[dict[str, Any]], model: Any, baseline_model: Any,
             models: Mapping[str, Any] | None = None) -> None:
        self.directory.mkdir(exist_ok=True)
        self._save_model(model, "model.keras")
        self._save_model(baseline_model, "baseline.keras")
        models = dict(models or {})
        roles = sorted(models)
        for role in roles:
            self._save_model(models[role], _model_file(role))
        state = {"fingerprint": self.fingerprint, "stage_index": stage_index,
                 "epochs_done": epochs_done, "epoch_logs": epoch_logs, "records": records,
                 "models": roles}
        self._replace(STATE, lambda path: path.write_text(json.dumps(state, indent=1)))

    def _save_model(self, model: Any, name: str) -> None:
        self._replace(name, model.save)  # the .keras format keeps the optimizer state

    def _replace(self, name: str, write: Any) -> None:
        temporary = self.directory / f".tmp-{name}"
        write(temporary)
        os.replace(temporary, self.directory / name)

    def state(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.directory / STATE).read_text())
        except (OSError, ValueError):
            return None

    def load(self) -> ResumePoint:
        state = self.state()
        if state is None:
            raise OutputError("there is no checkpoint to resume", str(self.directory.parent),
                              "run the build without --resume")
        if state["fingerprint"] != self.fingerprint:
            raise OutputError("the checkpoint belongs to a build with another recipe, "
                              "overrides or seed", str(self.directory.parent),
                              "resume with the same command, or pass --force to start over")
        return ResumePoint(state["stage_index"], state["epochs_done"], state["epoch_logs"],
                           state["records"], self._load_model("model.keras"),
                           self._load_model("baseline.keras"),
                           {role: self._load_model(_model_file(role))
                            for role in state.get("models", [])})

    def _load_model(self, name: str) -> Any:
        return load_own(self.directory / name)


class EpochSaver:
    """The `on_epoch_end` hook of a training stage: checkpoints the build after every epoch
    (`stage_index` resumes inside the stage) and once it finished (resumes after it)."""

    def __init__(self, checkpoints: Checkpointer, stage_index: int,
                 records: list[StageRecord], ctx: BuildContext):
        self.checkpoints = checkpoints
        self.stage_index = stage_index
        self.done = [r.to_dict() for r in records]
        self.ctx = ctx

    def __call__(self, model: Any, epoch_logs: list[dict[str, float]]) -> None:
        self.checkpoints.save(stage_index=self.stage_index, epochs_done=len(epoch_logs),
                              epoch_logs=epoch_logs, records=self.done, model=model,
                              baseline_model=self.ctx.baseline_model, models=self.ctx.models)

    def stage_done(self, ctx: BuildContext, records: list[StageRecord]) -> None:
        self.checkpoints.save(stage_index=self.stage_index + 1, epochs_done=0, epoch_logs=[],
                              records=[r.to_dict() for r in records], model=ctx.model,
                              baseline_model=ctx.baseline_model, models=ctx.models)


def _model_file(role: str) -> str:
    return f"model-{role}.keras"


def describe_checkpoint(out_dir: Path) -> str | None:
    """'stage 3, epoch 5' for the checkpoint in `out_dir`, if there is one."""
    try:
        state = json.loads((Path(out_dir) / RESUME_DIR / STATE).read_text())
    except (OSError, ValueError):
        return None
    return f"stage {state['stage_index']} after epoch {state['epochs_done']}"
