"""Whether a sparse kernel could skip a tensor's zeros on LiteRT, and why not."""

from __future__ import annotations

from .info import TensorInfo

CONVERTER_SPARSE_MIN = 0.3  # the converter encodes only tensors with at least this many zeros


def kernel_note(t: TensorInfo) -> str:
    """Whether a sparse kernel could skip this tensor's zeros, and why not."""
    if t.role != "weights":
        return ""
    op = t.op.split(" ")[0]
    if "DENSIFY" in t.op:
        return ("densified when the model loads: dense kernels run it, only the file is smaller"
                + ("; zeros in 1x4 (float) or 1x16 (int8) blocks would let the sparse kernel "
                   "run it" if op == "FULLY_CONNECTED" else ""))
    if t.encoding != "dense":
        if op == "FULLY_CONNECTED":
            return ("the builtin sparse FULLY_CONNECTED kernel runs it and skips the zero blocks "
                    "(XNNPACK leaves this op to the builtin kernels)")
        return f"stored sparse for {op}, which has no sparse kernel"
    if t.zeros < CONVERTER_SPARSE_MIN:
        return f"{t.zeros:.0%} zeros: too few for the sparse encoding (>= 30%)"
    if op == "FULLY_CONNECTED":
        block = "1x4" if t.dtype == "float32" else "1x16"
        keras_block = "[4, 1]" if t.dtype == "float32" else "[16, 1]"
        return (f"the builtin sparse FULLY_CONNECTED kernel needs the zeros in {block} blocks "
                f"(prune with block_size = {keras_block}: Keras kernels are [in, out], TFLite "
                "stores [out, in]); scattered zeros only make the file smaller")
    if op == "CONV_2D":
        pointwise = len(t.shape) == 4 and t.shape[1:3] == (1, 1)
        if pointwise and t.dtype == "float32" and t.zeros >= 2 / 3:
            return ("XNNPACK sparse inference could use this 1x1 conv (float, >= 2/3 zeros) in "
                    "a Fast-Sparse-ConvNet-shaped model, on builds with sparse inference on")
        kernel = "x".join(str(d) for d in t.shape[1:3])
        return (f"no sparse kernel for a {kernel} {t.dtype} CONV_2D (XNNPACK's sparse path "
                "takes float 1x1 convs with >= 2/3 zeros)")
    return f"no sparse kernel for {op}"
