"""Quantization-aware training of a Keras 3 model as it is, tfmot's 8-bit scheme the
reference: the layers' own calls, changed on the instances, fake int8 (no wrappers). A kernel
is fake-quantized symmetrically from its current range (a scale per output channel for
convolutions, one for Dense); a layer's output from a range that follows the batches as a
moving average (decay 0.999 from [-6, 6]), the model's input from every value seen. An
output read only by a batch normalization or a ReLU is not faked: the converter folds those
into the layer. The TFLite converter reads the FakeQuant ops and writes int8 from their
ranges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _compat
from ..errors import Unquantizable
from .masking import every_layer

# Layer types whose kernel is faked, by the attribute holding it (Keras 3.15).
KERNELS = {"Dense": "_kernel", "Conv1D": "_kernel", "Conv2D": "_kernel",
           "DepthwiseConv2D": "kernel"}
# Layer types that compute new values without weights to fake: their outputs are.
OUTPUTS = frozenset({
    "BatchNormalization", "ReLU", "Activation", "Softmax", "LeakyReLU", "ELU", "Add",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Rescaling",
    "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "UpSampling1D", "UpSampling2D"})
# Layer types whose outputs int8 takes from their inputs.
PASSED = frozenset({
    "InputLayer", "MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "Flatten", "Reshape", "Permute", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
    "Cropping2D", "Identity"})
FOLDED_ACTIVATIONS = frozenset({"relu", "relu6"})
EMA_DECAY = 0.999
START_RANGE = (-6.0, 6.0)


def unquantizable(model: Any) -> dict[str, str]:
    """The leaf layers of `model` no fake quantization here covers, with why: types it has
    no rule for, and batch norms the converter cannot fold into a convolution or Dense (int8
    has no rule for a norm alone; tfmot refuses those too)."""
    found = {layer.name: "the keras3 engine has no fake quantization for "
                         f"{type(layer).__name__}"
             for layer in _leaves(model) if _kind(layer) is None}
    for layer in _leaves(model):
        if type(layer).__name__ == "BatchNormalization" and not _foldable_norm(model, layer):
            found[layer.name] = ("the keras3 engine folds a batch norm into the convolution or "
                                 "Dense before it, and this one follows "
                                 + ("Python code (a subclassed model)"
                                    if not _compat.keras3_is_graph(model) else "another op"))
    return found


def _foldable_norm(model: Any, norm: Any) -> bool:
    """Whether each input of `norm` comes from a kernel layer without activation that only
    norms read (the converter folds it in)."""
    if not _compat.keras3_is_graph(model):
        return False
    producers = [_compat.keras3_producer(args[0]) for args, _, _ in _compat.keras3_calls(norm)]
    return bool(producers) and all(
        _kind(p) == "kernel" and _activation(p) == "linear"
        and all(type(r).__name__ == "BatchNormalization" for r in _compat.keras3_consumers(p))
        for p in producers)


def applied(model: Any) -> bool:
    """Whether `model`'s calls fake int8."""
    return "call" in vars(model)


def fake_quantize(model: Any, left_float: set[str], per_channel: bool = True) -> None:
    """Make `model`'s calls (its layers', and its own for the input) fake int8, in place,
    convolution kernels per output channel or (not `per_channel`) per tensor; the layers
    `left_float` compute in float (their outputs faked, so that the ops after them are
    int8). Unquantizable for a leaf layer not covered that is not left in float."""
    for name, reason in unquantizable(model).items():
        if name not in left_float:
            raise Unquantizable.of(name, reason)
    consumers = _consumers(model)
    for layer in _leaves(model):
        kind = _kind(layer)
        if layer.name in left_float:  # float inside; its output faked for the ops after it
            _replace_call(layer, {}, _Range(), None)
            continue
        if kind in (None, "passed"):
            continue
        readers = consumers.get(id(layer), [])
        faked_output = any(r.name in left_float for r in readers) or not _folded(layer, readers)
        _replace_call(layer, _swaps(layer, per_channel) if kind == "kernel" else {},
                      _Range() if faked_output else None, None)
    _replace_call(model, {}, None, _Range(every_value=True))


def _kind(layer: Any) -> str | None:
    name = type(layer).__name__
    if name in KERNELS:
        return "kernel"
    return "output" if name in OUTPUTS else "passed" if name in PASSED else None


def _leaves(layer: Any) -> list[Any]:
    """The layers of `layer` with no layers in them, at any depth."""
    return [sub for sub in every_layer(layer)[1:] if not _compat.keras3_sublayers(sub)]


def _consumers(model: Any) -> dict[int, list[Any]]:
    """What reads each layer's output, by the layer's id, where the model is a graph (a
    subclassed model's call is Python code: nothing known, every output faked)."""
    if not _compat.keras3_is_graph(model):
        return {}
    return {id(layer): _compat.keras3_consumers(layer) for layer in _leaves(model)}


def _folded(layer: Any, readers: list[Any]) -> bool:
    """Whether the converter folds `layer`'s output into the op after it, so that it needs
    no range of its own: a convolution's or Dense's without an activation read only by batch
    norms or ReLUs, a batch norm's read only by ReLUs (a layer or an activation)."""
    def relu(reader: Any) -> bool:
        kind = type(reader).__name__
        return kind == "ReLU" or (kind == "Activation"
                                  and _activation(reader) in FOLDED_ACTIVATIONS)

    if type(layer).__name__ == "BatchNormalization":
        return bool(readers) and all(relu(reader) for reader in readers)
    return (_kind(layer) == "kernel" and _activation(layer) == "linear" and bool(readers)
            and all(relu(r) or type(r).__name__ == "BatchNormalization" for r in readers))


def _swaps(layer: Any, per_channel: bool) -> dict[str, Callable[[Any], Any]]:
    """A weighted layer's kernel faked and, where its activation is not one the converter
    fuses into the op (softmax, sigmoid...), the activation's input faked too."""
    swaps = {KERNELS[type(layer).__name__]: _kernel_faker(layer, per_channel)}
    if _activation(layer) not in ("linear", *FOLDED_ACTIVATIONS):
        before = _Range()
        swaps["activation"] = lambda activation: (lambda x: activation(before(x)))
    return swaps


def _activation(layer: Any) -> str:
    return str(getattr(getattr(layer, "activation", None), "__name__", "linear"))


class _Range:
    """An activation's int8 range, zero always inside: a moving average of the batches'
    ranges from [-6, 6] (tfmot's for layer outputs) or, `every_value`, the range of every
    value seen from [0, 0] (tfmot's for the model's input)."""

    def __init__(self, every_value: bool = False) -> None:
        keras = _compat.keras3_engine()
        start = (0.0, 0.0) if every_value else START_RANGE
        self.every_value = every_value
        self.low = keras.Variable(start[0], trainable=False, dtype="float32")
        self.high = keras.Variable(start[1], trainable=False, dtype="float32")

    def __call__(self, x: Any) -> Any:
        keras = _compat.keras3_engine()
        ops = keras.ops
        if _compat.keras3_training():
            x32 = ops.stop_gradient(ops.cast(x, "float32"))
            low, high = ops.minimum(ops.min(x32), 0.0), ops.maximum(ops.max(x32), 0.0)
            if self.every_value:
                self.low.assign(ops.minimum(self.low, low))
                self.high.assign(ops.maximum(self.high, high))
            else:
                self.low.assign(self.low * EMA_DECAY + low * (1 - EMA_DECAY))
                self.high.assign(self.high * EMA_DECAY + high * (1 - EMA_DECAY))
        return keras.quantizers.fake_quant_with_min_max_vars(x, self.low, self.high)


def _kernel_faker(layer: Any, per_channel: bool) -> Callable[[Any], Any]:
    """The kernel's fake int8: symmetric, narrow range (-127..127, zero exact), from its
    largest magnitude per output channel (a convolution's last axis; a depthwise one's input
    channels, where its depth multiplier is 1) so that the converter can fold a batch
    normalization into it, else (Dense, or not `per_channel`) per tensor."""
    keras = _compat.keras3_engine()
    ops = keras.ops
    axis = {"Conv1D": -1, "Conv2D": -1}.get(type(layer).__name__) if per_channel else None
    if (per_channel and type(layer).__name__ == "DepthwiseConv2D"
            and layer.depth_multiplier == 1):
        axis = -2

    def fake(kernel: Any) -> Any:
        rank = len(kernel.shape)
        axes = None if axis is None else tuple(a for a in range(rank) if a != axis % rank)
        largest = ops.stop_gradient(ops.maximum(ops.max(ops.abs(kernel), axis=axes), 1e-8))
        return keras.quantizers.fake_quant_with_min_max_vars(kernel, -largest, largest,
                                                             narrow_range=True, axis=axis)

    return fake


def _replace_call(layer: Any, swaps: dict[str, Callable[[Any], Any]], output: _Range | None,
                  first_input: _Range | None) -> None:
    """`layer.call`, for this instance only, with its input or output faked and, while it
    runs, each attribute in `swaps` replaced by what its function makes of it (the kernel
    faked, an activation faking its input)."""
    own = type(layer).call.__get__(layer)

    def call(*args: Any, **kwargs: Any) -> Any:
        if first_input is not None:
            args = (first_input(args[0]), *args[1:])
        kept = {name: vars(layer)[name] for name in swaps}
        for name, swap in swaps.items():  # not set as Keras attributes: not tracked weights
            object.__setattr__(layer, name, swap(kept[name]))
        try:
            result = own(*args, **kwargs)
        finally:
            for name, value in kept.items():
                object.__setattr__(layer, name, value)
        return result if output is None else output(result)

    object.__setattr__(layer, "call", call)
