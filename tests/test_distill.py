"""Distillation: the loss is what the formula says, a fine-tune learns from the dense model,
and a distilling model survives a checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import _compat
from prune2edge.errors import RecipeError
from prune2edge.keras import distill
from prune2edge.stages import FineTune, Structural, Train

RNG = np.random.default_rng(0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_the_loss_is_the_hinton_formula():
    labels = np.array([0, 2, 1])
    teacher, student = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    t, weight = 3.0, 0.25
    loss, _ = distill.loss_and_metric(_compat.keras(), t, weight, from_logits=True)
    got = loss(distill.pack(labels, teacher.astype(np.float32)),
               student.astype(np.float32)).numpy()
    hard = -_log_softmax(student)[np.arange(3), labels]
    soft = -(np.exp(_log_softmax(teacher / t)) * _log_softmax(student / t)).sum(axis=1)
    assert got == pytest.approx(np.mean((1 - weight) * hard + weight * t * t * soft), rel=1e-5)


@pytest.mark.slow
def test_distilled_fine_tune_and_checkpoint_round_trip(make_ctx, tmp_path):
    ctx = run_stages(make_ctx("cnn"), Train(epochs=1), Structural(ratio=0.5))
    out = run_stages(ctx, FineTune(epochs=1, teacher="baseline", temperature=2.0))
    assert out.result.loss_fn == "distillation(temperature=2.0, weight=0.5)"
    assert out.result.test_accuracy > ctx.result.test_accuracy_before_finetune
    keras = _compat.keras()
    out.model.save(tmp_path / "student.keras")
    again = keras.models.load_model(tmp_path / "student.keras", safe_mode=False)
    assert type(again.loss).__name__ == "DistillationLoss" and again.loss.temperature == 2.0


def test_distillation_parameters():
    with pytest.raises(RecipeError, match="temperature must be > 0"):
        FineTune(teacher="baseline", temperature=0.0)
    with pytest.raises(RecipeError, match="distill_weight must be in"):
        FineTune(teacher="baseline", distill_weight=1.5)
