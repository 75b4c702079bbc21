"""A translated model checked against its Keras 3 original: both run on the same seeded random
inputs, compared at the outputs and at tensors spread through the graph."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import _compat
from ...errors import ModelError

VERIFY_SAMPLES = 16
PROBES = 12  # tensors inside the graph compared as well as the outputs


def verify(source: Any, model: Any, pairs: list[tuple[Any, Any]], keras3: Any) -> float:
    """Largest absolute difference between the two models on seeded random inputs, at their
    outputs and at up to `PROBES` tensors spread through the graph (a random-weights model can
    output a constant, which would prove nothing); raises if they are not equivalent."""
    keras = _compat.keras()
    step = max(1, len(pairs) // PROBES)
    probes = pairs[step - 1::step][:PROBES]
    expected_model, got_model = source, model
    if probes:
        single = len(source.inputs) == 1  # call as the source was built: one tensor or a list
        expected_model = keras3.Model(source.inputs[0] if single else source.inputs,
                                      [*source.outputs, *(a for a, _ in probes)])
        got_model = keras.Model(model.inputs, [*model.outputs, *(b for _, b in probes)])
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(VERIFY_SAMPLES, *model.input_shape[1:])).astype(np.float32)
    expected = _flat_arrays(expected_model(x, training=False))
    got = _flat_arrays(got_model(x, training=False))
    worst = 0.0
    for (index, want), have in zip(enumerate(expected), got, strict=True):
        difference = float(np.max(np.abs(want - have)))
        worst = max(worst, difference)
        if difference > 1e-4 * max(1.0, float(np.max(np.abs(want)))):
            where = "outputs" if index < len(source.outputs) else \
                f"tensor after {probes[index - len(source.outputs)][0].name!r}"
            raise ModelError(f"the translated model's {where} differ by {difference:.3g}",
                             source.name, "report this model; save it with tf_keras meanwhile")
    return worst


def _flat_arrays(outputs: Any) -> list[np.ndarray]:
    items = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [np.asarray(item) for item in items]
