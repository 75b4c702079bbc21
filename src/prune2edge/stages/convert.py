"""`convert`: write baseline.tflite (dense float32 reference) and model.tflite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ..context import BuildContext
from ..converter import to_tflite
from ..sizes import Size
from .base import Stage


@dataclass(frozen=True, kw_only=True)
class Convert(Stage):
    """TFLite conversion with the quantization plan; `sparse = "auto"` converts with and
    without the sparse encoding and keeps the smaller file by gzip size."""

    kind: ClassVar[str] = "convert"
    requires: ClassVar[frozenset[str]] = frozenset({"keras"})
    provides: ClassVar[frozenset[str]] = frozenset({"tflite"})
    forbids: ClassVar[frozenset[str]] = frozenset({"wrapped", "tflite"})

    sparse: Literal["auto", "on", "off"] = "auto"

    def summary(self) -> str:
        return f"sparse={self.sparse}"

    def run(self, ctx: BuildContext) -> BuildContext:
        baseline = ctx.work_dir / "baseline.tflite"
        baseline.write_bytes(to_tflite(ctx.baseline_model, None, sparse=False))
        encodings = {"dense": False, "sparse": True}
        if self.sparse != "auto":
            encodings = {"sparse": True} if self.sparse == "on" else {"dense": False}
        files = {name: to_tflite(ctx.model, ctx.quantization, flag)
                 for name, flag in encodings.items()}
        sizes = {name: Size.of(content) for name, content in files.items()}
        # Smaller gzip wins; on a tie the dense file, which every kernel can run.
        chosen = min(sizes, key=lambda name: (sizes[name].gzip_bytes, name != "dense"))
        final = ctx.work_dir / "model.tflite"
        final.write_bytes(files[chosen])
        plan = ctx.quantization
        return ctx.evolve(tflite={"baseline": baseline, "final": final}).with_outputs(
            quantization=plan.describe() if plan else {"mode": "none"},
            sparse=self.sparse,
            encoding=chosen,
            candidates={name: size.to_dict() for name, size in sizes.items()},
            decision=_decision(sizes, chosen, self.sparse))


def _decision(sizes: dict[str, Size], chosen: str, mode: str) -> str:
    if mode != "auto":
        return f"sparse = {mode!r}: {chosen} encoding as asked"
    other = "sparse" if chosen == "dense" else "dense"
    saved = 1 - sizes[chosen].gzip_bytes / sizes[other].gzip_bytes
    return (f"{chosen} encoding kept: {sizes[chosen].gzip_bytes:,} gzip bytes vs "
            f"{sizes[other].gzip_bytes:,} {other} ({saved:.1%} smaller)")
