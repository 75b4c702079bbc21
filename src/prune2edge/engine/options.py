"""BuildOptions: how a pipeline builds (where, with which seed, resumed or not, ...), one
object from `build()` through `Pipeline.run` to the build itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..progress import Reporter
from .distribute import DistributeSpec


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to build: into `out` (replacing it with `force`, continuing its checkpoint with
    `resume`), with `seed`; relative sources resolve against `base_dir`; `recipe` is what the
    report records (default: the stages' parameters); `log_native` sends TensorFlow's native
    output to OUT/build.log; training stages run under `distribute`."""

    out: Path
    seed: int = 0
    force: bool = False
    resume: bool = False
    reporter: Reporter = field(default_factory=Reporter)
    name: str = "pipeline"
    base_dir: Path = field(default_factory=Path.cwd)
    recipe: dict[str, Any] | None = None
    log_native: bool = False
    distribute: DistributeSpec = field(default_factory=DistributeSpec)

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "base_dir", Path(self.base_dir))
