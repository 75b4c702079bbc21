"""`finetune.pruning_summaries`: TensorBoard logs of each pruned weight's sparsity as it rises
through fine-tuning (plus Keras' loss and metrics), in both model engines (on these models,
the same figures: 0, 0.417, 0.583 for the convolution)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prune2edge import _compat, build

pytest.importorskip("tensorboard")
TESTS = Path(__file__).parent
STAGES = """
[[stages]]
kind = "prune"
schedule = { kind = "polynomial_decay", final_sparsity = 0.6, frequency = 2 }

[[stages]]
kind = "finetune"
epochs = 3
pruning_summaries = true

[[stages]]
kind = "strip"
"""


def sparsity_logs(directory: Path) -> dict[str, list[float]]:
    """Each `*/sparsity` scalar in the event files under `directory`, in step order."""
    tf = _compat.tf()
    found: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(directory.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag.endswith("/sparsity"):
                    scalar = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") \
                        else value.simple_value
                    found.setdefault(value.tag, []).append((event.step, scalar))
    return {tag: [v for _, v in sorted(points)] for tag, points in found.items()}


@pytest.mark.slow
@pytest.mark.parametrize("engine,source", [("tf_keras", "tiny_models:cnn"),
                                           ("keras3", "keras3_models:functional")])
def test_sparsity_rises_in_tensorboard_logs(write_recipe, tmp_path, engine, source):
    shutil.copy(TESTS / "keras3_models.py", tmp_path / "keras3_models.py")
    recipe = write_recipe(STAGES, model=source)
    recipe.write_text(recipe.read_text().replace(f'source = "{source}"',
                                                 f'source = "{source}"\nengine = "{engine}"'))
    out = tmp_path / "out"
    build(recipe, out)
    logs = sparsity_logs(out / "tensorboard")
    assert len(logs) >= 2  # a kernel of each pruned layer
    for tag, values in logs.items():
        assert len(values) == 3 and values[0] == 0.0, tag  # at each epoch's start
        assert 0.0 < values[1] < values[2] <= 0.6 + 1e-6, tag
    assert any((out / "tensorboard").rglob("train/events.out.tfevents.*"))  # loss, metrics
