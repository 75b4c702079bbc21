"""What the benchmark scripts share: their command line (--out, --runs), TensorFlow's native
logs kept out of the terminal, and the test split as a recipe's builds load it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from prune2edge import load_recipe, native_log
from prune2edge.data import Dataset
from prune2edge.engine.prepare import prepare
from prune2edge.progress import Reporter

ROOT = Path(__file__).resolve().parents[1]


def cli(doc: str, name: str, run: Callable[[argparse.Namespace], None],
        runs: int | None = None) -> None:
    """Parse --out (default build/bench/NAME) and, when `runs` is given, --runs; then call
    `run(args)` with the native logs going to OUT/native.log."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / name)
    if runs is not None:
        parser.add_argument("--runs", type=int, default=runs, help="timed runs per model")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with native_log.captured(args.out / "native.log"):
        run(args)


def test_data(recipe: Path, work: Path) -> Dataset:
    """The data a recipe's builds are measured on."""
    loaded = load_recipe(recipe)
    _, ctx = prepare(loaded.model, loaded.data, base_dir=loaded.base_dir, seed=loaded.seed,
                     work_dir=work, reporter=Reporter())
    return ctx.setup.data
