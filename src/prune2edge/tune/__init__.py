"""`prune2edge tune`: the fastest (or smallest) model within an accuracy budget (see
`search` for how), written as a recipe that `prune2edge build` reproduces."""

from .run import TuneResult, tune

__all__ = ["TuneResult", "tune"]
