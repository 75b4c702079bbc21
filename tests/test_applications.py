"""Structural surgery on every tf_keras.applications family (smallest member, random weights):
it plans and rebuilds without error, keeping every channel changes nothing, half the
channels leave at most ~40% of the multiply-accumulates, and the result converts to .tflite
and runs there as it does in Keras.

Conversion takes most of the time (25-50 s a graph on 2 cores), so it runs here on three
families (depthwise and separable convolutions, residual adds, squeeze-excite, layer
normalisation, dense heads); the others, concatenations and grouped convolutions among them,
are converted, checked against Keras and timed by `scripts/bench_applications.py`
(`make bench`), which converts every family."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge.engine.prepare import seed_everything
from prune2edge.keras import zoo
from prune2edge.keras.converter import to_tflite
from prune2edge.keras.criteria import criterion
from prune2edge.keras.surgery import group_scores, plan, rebuild, select, shrink_report
from prune2edge.tflite.runner import TFLiteRunner

pytestmark = pytest.mark.slow
CONVERTED_HERE = {"MobileNetV3"}  # hard-swish and squeeze-excite; `make bench` converts all
# families whose structure a sibling in `make test` shares (RegNetY's grouped convolutions
# and squeeze-excite, ResNet's residual stages, EfficientNet's MBConv blocks, DenseNet's
# concatenations, Xception's separable convolutions, MobileNetV2's depthwise stacks):
# `make test-all` plans them too
SIBLINGS = {"RegNetX", "ResNetRS", "EfficientNetV2", "InceptionResNetV2", "InceptionV3",
            "NASNet", "MobileNet"}


@pytest.mark.parametrize("family", [
    pytest.param(family, marks=pytest.mark.exhaustive if family in SIBLINGS else ())
    for family in zoo.FAMILIES])
def test_every_family_plans_prunes_and_converts(family, tmp_path):
    seed_everything(0)
    model = zoo.build(family)
    side = model.input_shape[1]
    x = np.random.default_rng(0).uniform(0, 255, (2, side, side, 3)).astype(np.float32)
    planned = plan(model)
    assert all(g.reasons for g in planned.groups if not g.prunable)  # every blocked group says why

    everything = {m: np.arange(g.width) for g in planned.prunable for m in g.members}
    same = rebuild(planned.graph, everything)
    assert np.max(np.abs(same(x).numpy() - model(x).numpy())) <= 1e-5

    producers = [m for g in planned.prunable for m in g.members]
    scores = group_scores(planned, criterion("l1").channel_scores(planned.graph.model, producers))
    keep = select(planned, scores, {"*": 0.5}, 4, "uniform")
    smaller = rebuild(planned.graph, keep)
    shrunk = shrink_report(planned, smaller, keep)
    assert shrunk["macs_after"] <= 0.41 * shrunk["macs_before"]

    if family not in CONVERTED_HERE:
        return
    path = tmp_path / "pruned.tflite"
    path.write_bytes(to_tflite(smaller, None, sparse=False))
    expected = smaller.predict(x, verbose=0)
    assert np.allclose(TFLiteRunner(path).predict(x), expected, atol=1e-4)
