"""What a tune has found so far, kept in OUT/.prune2edge-resume/ so that an interrupted one
goes on with `tune --resume`: the model the search starts from (after the recipe's training),
the latency model's points, every one-shot trial's figures, and every finalist's `.tflite`
and validation accuracy. The search is deterministic, so replaying it with these figures
takes it, without redoing the work, to where it stopped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .. import storage
from ..engine.checkpoint import MISMATCH, RESUME_DIR, damaged
from ..errors import OutputError, first_line
from ..keras.files import load_own
from ..sizes import sha256

STATE = "tune-state.json"
START = "start.keras"
FORMAT = 2


def key(settings: dict[str, float]) -> str:
    """A trial's settings as a dictionary key."""
    return json.dumps(settings, sort_keys=True)


class Memory:
    """The tune's findings so far, saved (whole, by renaming) every time one is added."""

    def __init__(self, out: Path, fingerprint: dict[str, str], resume: bool):
        self.directory = Path(out) / RESUME_DIR
        self.fingerprint = fingerprint
        self.doc: dict[str, Any] = {"format": FORMAT, "fingerprint": fingerprint,
                                    "start": None, "latency_points": None, "trials": {},
                                    "finalists": {}, "measured": {}}
        if resume:
            self.doc = self._read()

    def _read(self) -> dict[str, Any]:
        path = self.directory / STATE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise OutputError("there is no interrupted tune to resume", str(path.parent.parent),
                              "run the tune without --resume") from exc
        except (OSError, ValueError) as exc:
            raise damaged(path, first_line(exc)) from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise damaged(path, "it was written by another version of prune2edge")
        for part, (what, fix) in MISMATCH.items():
            if doc["fingerprint"].get(part) != self.fingerprint[part]:
                raise OutputError(what, str(self.directory.parent), fix)
        return doc

    def _save(self) -> None:
        self.directory.mkdir(exist_ok=True)
        storage.write_bytes(self.directory / STATE, json.dumps(self.doc, indent=1))

    def start_model(self) -> Any:
        """The model the search starts from, if an earlier run saved it (else None)."""
        saved = self.doc["start"]
        if saved is None:
            return None
        path = self.directory / START
        if not path.is_file() or sha256(path) != saved:
            raise damaged(path, "it is missing or not what was saved")
        return load_own(path)

    def keep_start(self, model: Any) -> None:
        self.directory.mkdir(exist_ok=True)
        with storage.temporary_path(self.directory / START) as path:
            model.save(path)
            digest = sha256(path)
        self.doc["start"] = digest
        self._save()

    @property
    def latency_points(self) -> list[tuple[int, float]] | None:
        points = self.doc["latency_points"]
        return None if points is None else [(int(m), float(p)) for m, p in points]

    def keep_latency_points(self, points: list[tuple[int, float]]) -> None:
        self.doc["latency_points"] = [list(p) for p in points]
        self._save()

    def trial(self, settings: dict[str, float]) -> dict[str, Any] | None:
        return self.doc["trials"].get(key(settings))

    def keep_trial(self, settings: dict[str, float], figures: dict[str, Any]) -> None:
        self.doc["trials"][key(settings)] = {**self.doc["trials"].get(key(settings), {}),
                                             **figures}
        self._save()

    def finalist(self, name: str) -> tuple[Path, float] | None:
        """A probe's file and validation accuracy, if an earlier run made them."""
        found = self.doc["finalists"].get(name)
        if found is None:
            return None
        path = self.directory / found["file"]
        if not path.is_file() or sha256(path) != found["sha256"]:
            raise damaged(path, "it is missing or not what was saved")
        return path, found["accuracy"]

    def keep_finalist(self, name: str, file: Path, accuracy: float) -> Path:
        """Keep a probe's file here; the kept copy's path."""
        kept = self.directory / f"finalist-{name}.tflite"
        self.directory.mkdir(exist_ok=True)
        with storage.temporary_path(kept) as path:
            shutil.copyfile(file, path)
        self.doc["finalists"][name] = {"file": kept.name, "accuracy": accuracy,
                                             "sha256": sha256(kept)}
        self._save()
        return kept

    def measured(self, files: list[str]) -> list[tuple[float, int]] | None:
        """The (p50 ms, gzip bytes) an earlier run measured for these files, timed together."""
        found = self.doc["measured"].get(" ".join(files))
        return None if found is None else [(float(p50), int(gzip)) for p50, gzip in found]

    def keep_measured(self, files: list[str], figures: list[tuple[float, int]]) -> None:
        self.doc["measured"][" ".join(files)] = [list(f) for f in figures]
        self._save()

    def described(self) -> str:
        trials, finalists = len(self.doc["trials"]), len(self.doc["finalists"])
        return f"{trials} trial(s) and {finalists} finalist(s)"
