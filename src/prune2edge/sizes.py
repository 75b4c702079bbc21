"""Size accounting: THE gzip definition, used for every gzip figure prune2edge reports."""

from __future__ import annotations

import builtins
import gzip
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

GZIP_LEVEL = 9


def gzip_size(data: bytes) -> int:
    """Bytes of `data` gzipped at level 9 with mtime 0 and no file name in the header.

    This is the figure that tracks what sparsity buys: runs of zeros compress away.
    """
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


@dataclass(frozen=True)
class Size:
    bytes: int
    gzip_bytes: int

    @classmethod
    def of(cls, data: builtins.bytes) -> Size:
        return cls(len(data), gzip_size(data))

    @classmethod
    def of_file(cls, path: Path) -> Size:
        return cls.of(Path(path).read_bytes())

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ratio(before: float | None, after: float | None) -> float | None:
    """before / after (how many times smaller or faster), or None when undefined."""
    if before is None or after is None or after == 0:
        return None
    return before / after
