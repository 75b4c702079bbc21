"""Optimal Brain Surgeon on a Keras model, layer by layer in order: each layer's inputs are
taken from calibration samples run through the model as already pruned, its kernel pruned and
reconstructed (`obs`), and the result written back before the next layer is measured; any
tf_keras or Keras 3 model (a subclassed one too).

Dense and Conv2D kernels are (inputs x outputs) matrices over the layer's input patches.
(tfmot prunes no weights of depthwise convolutions, so it could not hold their zeros.)"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _compat
from ..progress import Task
from . import obs

SUPPORTED = ("Dense", "Conv2D")
BATCH = 256


def supports(layer: Any) -> bool:
    """Whether OBS can reconstruct this layer (a Dense, or an ungrouped Conv2D)."""
    return type(layer).__name__ in SUPPORTED and getattr(layer, "groups", 1) == 1


def prune_layers(model: Any, layers: list[Any], x: np.ndarray, sparsity: float,
                 damping: float, m_by_n: tuple[int, int] | None = None,
                 task: Task | None = None) -> list[dict[str, Any]]:
    """Prune the kernels of `layers` (in the order they run) to `sparsity`, or m of every n
    along their input axis, in place; one row per layer with the output error OBS leaves and
    the error magnitude pruning would leave. `task` advances once per layer."""
    rows = []
    for layer in layers:
        patches = input_patches(layer, layer_inputs(model, layer, x))
        kernel = layer.kernel.numpy()
        matrix = kernel.reshape(-1, kernel.shape[-1]).T  # (outputs, inputs)
        result = obs.prune(matrix, obs.hessian(patches), sparsity, damping, m_by_n)
        layer.kernel.assign(result.weights.T.reshape(kernel.shape))
        rows.append({"layer": layer.name, "sparsity": float(np.mean(result.weights == 0)),
                     "output_error": result.error,
                     "magnitude_output_error": result.magnitude_error})
        (task or Task()).advance(status=layer.name)
    return rows


def layer_inputs(model: Any, layer: Any, x: np.ndarray) -> np.ndarray:
    """What `layer` receives when `model` runs on `x` (every call of it, in order)."""
    if not _compat.is_keras3_node(model):
        return _compat.keras().Model(model.inputs, layer.input).predict(x, batch_size=256,
                                                                         verbose=0)
    # A Keras 3 model may be subclassed, or hold the layer in a nested model: no sub-model
    # reaches it, so its call is watched while the model runs eagerly.
    seen: list[np.ndarray] = []
    call = layer.call

    def watched(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(np.asarray(inputs))
        return call(inputs, *args, **kwargs)

    layer.call = watched  # Keras 3 runs a layer through its instance's `call`
    try:
        for start in range(0, len(x), BATCH):
            model(x[start:start + BATCH], training=False)
    finally:
        del layer.call
    return np.concatenate(seen)


def input_patches(layer: Any, inputs: np.ndarray) -> np.ndarray:
    """The layer's inputs as rows that its kernel (reshaped to inputs x outputs) multiplies;
    for a convolution, its receptive fields with the channel axis fastest."""
    if type(layer).__name__ == "Dense":
        return inputs.reshape(-1, inputs.shape[-1])
    tf = _compat.tf()
    patches = tf.image.extract_patches(
        inputs, sizes=[1, *layer.kernel_size, 1], strides=[1, *layer.strides, 1],
        rates=[1, *layer.dilation_rate, 1], padding=layer.padding.upper()).numpy()
    return patches.reshape(-1, patches.shape[-1])
