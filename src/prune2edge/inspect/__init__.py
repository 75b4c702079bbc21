"""`prune2edge inspect`: what a model file stores, tensor by tensor (zeros, encoding, bytes,
entropy) and which sparse kernels could use it. .tflite files need no TensorFlow; a build's
model.tflite also shows the per-layer int8 error the build measured (from its report.json),
and every .tflite what a microcontroller needs: activations per op, TFLM's arena, flash."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..boards import Board, fit
from ..errors import DependencyError, TFLiteError
from ..tflite.arena import predict
from ..tflite.micro import MicroRunner, board_memory
from ..tflite.model import TFLiteModel
from .info import ModelInfo, TensorInfo, entropy_bits
from .tflite import inspect_tflite

__all__ = ["ModelInfo", "TensorInfo", "entropy_bits", "inspect", "inspect_tflite"]


def inspect(path: Path, board: Board | None = None, reserve_bytes: int = 0) -> ModelInfo:
    """Describe a .tflite, .keras, .h5 or SavedModel directory; a .tflite also on `board`
    (what is left of its RAM and flash after `reserve_bytes` for the application)."""
    path = Path(path)
    if not path.exists():
        raise TFLiteError("model file not found", str(path),
                          "give a .tflite, .keras or .h5 file or a SavedModel directory")
    if path.is_file() and path.suffix == ".tflite":
        return replace(inspect_tflite(path), int8=_build_int8(path),
                       micro=_micro(path, board, reserve_bytes))
    if board is not None:
        raise TFLiteError("a board's margins are for the .tflite it stores", str(path),
                          "inspect the build's model.tflite with --board")
    from .keras import inspect_keras

    return inspect_keras(path)


def _build_int8(path: Path) -> dict[str, Any] | None:
    """The per-layer int8 errors the build that wrote `path` (its model.tflite) measured."""
    report = path.parent / "report.json"
    if path.name != "model.tflite" or not report.is_file():
        return None
    try:
        return (json.loads(report.read_text()).get("conversion") or {}).get("int8")
    except (ValueError, OSError, AttributeError):
        return None  # not a prune2edge report: the file is described on its own


def _micro(path: Path, board: Board | None, reserve_bytes: int) -> dict[str, Any]:
    """What a microcontroller needs for the file: activations per op and the arena TFLM will
    allocate, predicted (from the file), and TFLM's own arena and the flash when tflite-micro
    is installed and can run it; on `board`, the margins left (the predicted arena standing
    in for TFLM's where it cannot run)."""
    view = TFLiteModel.of_file(path)
    activations = view.activation_memory()
    predicted = predict(view)
    found: dict[str, Any] = {"activations": [op.to_dict() for op in activations],
                             "predicted_arena": predicted.to_dict()}
    try:
        found.update(board_memory(MicroRunner(view.content, str(path)), activations))
    except (DependencyError, TFLiteError) as exc:
        found["unavailable"] = exc.what
    if board is not None:
        arena = found["arena"]["total"] if "arena" in found else None
        found["board"] = fit(board, reserve_bytes, arena, predicted.total, len(view.content))
    return found
