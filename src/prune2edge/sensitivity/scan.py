"""Per-layer sensitivity: test accuracy as one layer at a time loses weights or channels.

The scan starts from the model a recipe's pruning would start from (after its `train`
stages), prunes a single layer at each ratio without fine-tuning, and measures accuracy on
the test split; the other layers stay as they are. Layers whose accuracy falls early deserve
lower ratios in the recipe.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ..engine.prepare import prepare, seed_everything
from ..keras.criteria import criterion as criterion_named
from ..keras.criteria import unstructured_mask
from ..keras.model import accuracy as accuracy_of
from ..keras.surgery import Plan, plan, rebuild, select
from ..progress import Reporter
from ..recipe.schema import Recipe
from ..report.format import table
from ..stages.prune import Prune

Mode = Literal["magnitude", "structural"]


@dataclass(frozen=True)
class Sensitivity:
    name: str
    mode: str
    criterion: str
    ratios: list[float]
    baseline_accuracy: float
    test_samples: int
    layers: list[dict[str, Any]]  # {"layer", "type", "weights" or "width", "accuracy": [...]}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        what = "share of weights zeroed" if self.mode == "magnitude" else \
            "share of units/filters removed"
        header = ["layer", "type", *(f"{r:.0%}" for r in self.ratios)]
        rows = [[row["layer"], row["type"], *(f"{a:.2%}" for a in row["accuracy"])]
                for row in self.layers]
        return (f"# Sensitivity of {self.name} ({self.mode}, {self.criterion})\n\n"
                f"Test accuracy ({self.test_samples} samples) when one layer at a time loses "
                f"the given {what}, without fine-tuning; unpruned: "
                f"{self.baseline_accuracy:.2%}.\n\n" + table(header, rows) + "\n\n"
                "![sensitivity](sensitivity.png)\n")


def scan(recipe: Recipe, *, mode: Mode = "magnitude", criterion: str | None = None,
         ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9), samples: int | None = None,
         calibration_samples: int = 256, reporter: Reporter | None = None) -> Sensitivity:
    """Scan every layer the chosen kind of pruning could touch."""
    reporter = reporter or Reporter()
    criterion = criterion or ("magnitude" if mode == "magnitude" else "l1")
    seed_everything(recipe.seed)
    with tempfile.TemporaryDirectory() as work:
        _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                         work_dir=Path(work), reporter=reporter)
        before = recipe.pipeline.before_pruning()
        if before is not None:
            ctx, _ = before.execute(ctx)
    model, data = ctx.model, ctx.data
    x, y = data.x_test[:samples], data.y_test[:samples]

    def accuracy(candidate: Any) -> float:
        return accuracy_of(candidate, x, y)

    needs_data = criterion_named(criterion).needs_data
    sample = data.representative(calibration_samples, recipe.seed) if needs_data else None
    scanner = _magnitude if mode == "magnitude" else _structural
    layers = scanner(model, criterion, ratios, sample, accuracy, reporter)
    return Sensitivity(recipe.name, mode, criterion, list(ratios), accuracy(model), len(y),
                       layers)


def _magnitude(model: Any, criterion: str, ratios: tuple[float, ...], sample: Any,
               accuracy: Any, reporter: Reporter) -> list[dict[str, Any]]:
    names = [c.name for c in Prune().choose_layers(model) if c.pruned]
    kernels = [model.get_layer(n).kernel for n in names]
    scores = criterion_named(criterion).weight_scores(model, kernels, sample)
    rows = []
    with reporter.task("layers x ratios", len(names) * len(ratios)) as task:
        for name, kernel, score in zip(names, kernels, scores, strict=True):
            original = kernel.numpy()
            results = []
            for ratio in ratios:
                kernel.assign(original * unstructured_mask(score, ratio))
                results.append(accuracy(model))
                task.advance(1, name)
            kernel.assign(original)
            rows.append({"layer": name, "type": type(model.get_layer(name)).__name__,
                         "weights": int(original.size), "accuracy": results})
    return rows


def _structural(model: Any, criterion: str, ratios: tuple[float, ...], sample: Any,
                accuracy: Any, reporter: Reporter) -> list[dict[str, Any]]:
    result = plan(model)
    producers = [m for g in result.prunable for m in g.members]
    scores = criterion_named(criterion).channel_scores(model, producers, sample)
    rows = []
    with reporter.task("layers x ratios", len(result.prunable) * len(ratios)) as task:
        for group in result.prunable:
            results = []
            for ratio in ratios:
                one = Plan(result.graph, [group])
                keep = select(one, scores, {"*": ratio}, 1, "uniform")
                results.append(accuracy(rebuild(result.graph, keep)))
                task.advance(1, group.name)
            rows.append({"layer": group.name, "type": type(result.graph.layer(
                group.members[0])).__name__, "width": group.width, "accuracy": results})
    return rows
