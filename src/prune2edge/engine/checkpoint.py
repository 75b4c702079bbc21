"""Per-epoch checkpoints of a build, so an interrupted one resumes instead of starting over.

They live in OUT/.prune2edge-resume/ while a build runs or after it was interrupted, and are
removed when a build commits. Each checkpoint is a folder of models written under a temporary
name and renamed whole; state.json, replaced last, names the folder and every file's sha256
and carries a digest of itself, so a checkpoint is whole, or refused as damaged when read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import storage
from ..errors import OutputError, first_line
from ..sizes import sha256
from .context import StageRecord
from .model_engine import ModelEngine, engine_for

if TYPE_CHECKING:
    from .context import BuildContext
    from .stage import Stage

RESUME_DIR = ".prune2edge-resume"
STATE = "state.json"
MASKS = "masks.npz"  # the pruning masks an engine keeps beside the model (Keras 3's)
FORMAT = 2  # the layout of a checkpoint; an older one is refused, not misread
START_OVER = "pass --force to start over (the checkpoint is discarded)"
# What a checkpoint must match, and what the refusal says when it does not.
MISMATCH = {
    "recipe": ("the checkpoint belongs to a build with another recipe, overrides or seed",
               "resume with the same command, or pass --force to start over"),
    "data": ("the data changed since the build was interrupted (its samples, labels or files "
             "differ)", "resume on the same data, or pass --force to start over"),
    "model": ("the input model changed since the build was interrupted",
              "resume from the same model, or pass --force to start over"),
}


def fingerprint(recipe: dict[str, Any], seed: int, data: str, model: str) -> dict[str, str]:
    """What must match for a checkpoint to belong to a build: the recipe as run and the seed,
    the data's content (`Dataset.digest`) and the input model's (`keras.model.digest`)."""
    doc = {k: v for k, v in recipe.items() if k != "path"}
    text = json.dumps({"recipe": doc, "seed": seed}, sort_keys=True, default=str)
    return {"recipe": hashlib.sha256(text.encode()).hexdigest(), "data": data, "model": model}


@dataclass(frozen=True, eq=False)
class ResumePoint:
    """Where a build stopped: stage `stage_index` (1-based) had run `epochs_done` epochs."""

    stage_index: int
    epochs_done: int
    epoch_logs: list[dict[str, float]]  # the finished epochs' logs of that stage
    records: list[StageRecord]  # the stages finished before it
    model: Any
    baseline_model: Any  # the very same object as `model` when the build had them so
    models: Mapping[str, Any] = field(default_factory=dict)  # the context's further models
    masks: Any = None  # the masks kept beside `model`, if the engine keeps them so

    def describe(self) -> dict[str, Any]:
        return {"stage": self.stage_index, "epochs_done": self.epochs_done,
                "stages_skipped": [r.name for r in self.records]}


class Checkpointer:
    def __init__(self, out_dir: Path, fingerprint: dict[str, str],
                 engine: ModelEngine | None = None):
        self.directory = Path(out_dir) / RESUME_DIR
        self.fingerprint = fingerprint
        self.engine = engine or engine_for("tf_keras")

    def save(self, *, stage_index: int, epochs_done: int, epoch_logs: list[dict[str, float]],
             records: list[dict[str, Any]], model: Any, baseline_model: Any,
             models: Mapping[str, Any] | None = None, masks: Any = None) -> None:
        """Write a checkpoint beside the last one, then switch state.json to it: a failure
        (a full disk, a kill) leaves the last one whole; Ctrl-C or SIGTERM waits for it. A
        model that would not read back as it is (`ModelEngine.reads_back`) is not saved: the
        last checkpoint stays, and a resumed build runs again what came after it."""
        if not self.engine.reads_back(model):
            return
        name = f"stage{stage_index}-epoch{epochs_done}"
        roles = {"model": model, **({} if baseline_model is model else
                                    {"baseline": baseline_model}),
                 **{f"model-{role}": m for role, m in sorted((models or {}).items())}}
        with storage.uninterrupted():
            self._save(name, roles, {"stage_index": stage_index, "epochs_done": epochs_done,
                                     "epoch_logs": epoch_logs, "records": records,
                                     "roles": sorted(models or {})}, masks)

    def _save(self, name: str, roles: dict[str, Any], progress: dict[str, Any],
              masks: Any) -> None:
        first = not self.directory.exists()
        self.directory.mkdir(exist_ok=True)
        storage.remove(self.directory / name)
        try:
            with storage.temporary_path(self.directory / name, directory=True) as folder:
                for role, saved in roles.items():
                    saved.save(folder / f"{role}.keras")  # .keras keeps the optimizer state
                files = {role: sha256(folder / f"{role}.keras") for role in roles}
                if masks is not None:
                    masks.save(folder / MASKS, roles["model"])
                    files[MASKS] = sha256(folder / MASKS)
        except BaseException:
            if first:  # no checkpoint rather than an empty one
                storage.remove(self.directory)
            raise
        state = {"format": FORMAT, "fingerprint": self.fingerprint, **progress,
                 "folder": name, "files": files}
        storage.write_bytes(self.directory / STATE, json.dumps(_sealed(state), indent=1))
        for old in self.directory.iterdir():
            if old.name not in (name, STATE):
                storage.remove(old)

    def load(self, stages: Sequence[Stage]) -> ResumePoint:
        """The checkpoint of a build of `stages`, checked whole and against this build's
        fingerprint."""
        state = read_state(self.directory)
        for part, (what, fix) in MISMATCH.items():
            if state["fingerprint"].get(part) != self.fingerprint[part]:
                raise OutputError(what, str(self.directory.parent), fix)
        folder = self.directory / state["folder"]
        files = dict(state["files"])
        masks_digest = files.pop(MASKS, None)
        loaded = {role: self._load(folder / f"{role}.keras", digest)
                  for role, digest in files.items()}
        model = loaded["model"]
        masks = (None if masks_digest is None else
                 self._load(folder / MASKS, masks_digest, lambda path: self.engine.load_masks(
                     path, model)))
        try:
            records = [StageRecord.from_dict(doc, stage.Result)
                       for doc, stage in zip(state["records"], stages, strict=False)]
        except ValueError as exc:
            raise damaged(self.directory / STATE, f"a finished stage's result does not fit "
                                                  f"this prune2edge ({exc})") from exc
        return ResumePoint(state["stage_index"], state["epochs_done"], state["epoch_logs"],
                           records, model, loaded.get("baseline", model),
                           {role: loaded[f"model-{role}"] for role in state["roles"]}, masks)

    def _load(self, path: Path, digest: str, reader: Any = None) -> Any:
        """What `path` holds, read by `reader` (the engine's model loader by default), once
        its content is checked against `digest`."""
        try:
            intact = sha256(path) == digest
        except OSError as exc:
            raise damaged(path, f"cannot read it: {exc.strerror}") from exc
        if not intact:
            raise damaged(path, "its content is not what was saved (truncated or altered)")
        try:
            return (reader or self.engine.load_own)(path)
        except Exception as exc:  # Keras raises many types for unreadable files
            raise damaged(path, first_line(exc)) from exc


def read_state(directory: Path) -> dict[str, Any]:
    """A checkpoint's state.json, whole and of this format, or OutputError (damaged)."""
    path = directory / STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise damaged(path, "it is missing") from exc
    except (OSError, ValueError) as exc:
        raise damaged(path, first_line(exc)) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise damaged(path, "it was written by another version of prune2edge")
    if state.get("digest") != _sealed(state)["digest"]:
        raise damaged(path, "its content is not what was saved (truncated or altered)")
    return state


def damaged(path: Path, why: str) -> OutputError:
    return OutputError(f"the interrupted build's checkpoint is damaged: {path.name}: {why}",
                       str(path.parent), START_OVER)


def _sealed(state: dict[str, Any]) -> dict[str, Any]:
    """`state` with a digest of everything else in it."""
    body = {k: v for k, v in state.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True)
    return {**body, "digest": hashlib.sha256(text.encode()).hexdigest()}


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
                              baseline_model=self.ctx.baseline_model, models=self.ctx.models,
                              masks=self.ctx.masks)

    def stage_done(self, ctx: BuildContext, records: list[StageRecord]) -> None:
        self.checkpoints.save(stage_index=self.stage_index + 1, epochs_done=0, epoch_logs=[],
                              records=[r.to_dict() for r in records], model=ctx.model,
                              baseline_model=ctx.baseline_model, models=ctx.models,
                              masks=ctx.masks)


def describe_checkpoint(out_dir: Path) -> str | None:
    """'stage 3 after epoch 5' for a whole checkpoint in `out_dir`, if there is one."""
    try:
        state = read_state(Path(out_dir) / RESUME_DIR)
    except OutputError:
        return None
    return f"stage {state['stage_index']} after epoch {state['epochs_done']}"
