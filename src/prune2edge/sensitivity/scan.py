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

from ..engine.distribute import one_machine, strategy_for
from ..engine.prepare import prepare, seed_everything
from ..jobs import Jobs
from ..keras.criteria import criterion as criterion_named
from ..keras.criteria import unstructured_mask
from ..keras.files import load_own
from ..keras.model import accuracy as accuracy_of
from ..keras.surgery import Plan, group_scores, plan, rebuild, select
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
         calibration_samples: int = 256, jobs: int = 1,
         reporter: Reporter | None = None) -> Sensitivity:
    """Scan every layer the chosen kind of pruning could touch, the cells (layer x ratio)
    shared among `jobs` processes."""
    reporter = reporter or Reporter()
    criterion = criterion or ("magnitude" if mode == "magnitude" else "l1")
    strategy = strategy_for(one_machine(recipe.distribute, "sensitivity"))
    seed_everything(recipe.seed)
    with tempfile.TemporaryDirectory() as work:
        _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                         work_dir=Path(work), reporter=reporter, command="sensitivity")
        before = recipe.pipeline.before_pruning()
        if before is not None:
            ctx, _ = before.execute(ctx.set_up(strategy=strategy))
        data = ctx.setup.data
        x, y = data.x_test[:samples], data.y_test[:samples]
        needs_data = criterion_named(criterion).needs_data
        sample = data.representative(calibration_samples, recipe.seed) if needs_data else None
        state = _state(ctx.model, x, y, mode, criterion, sample)
        model_file = Path(work) / "scanned.keras"
        if jobs > 1:
            ctx.model.save(model_file)
        layers = state.layers()
        cells = [(index, ratio) for index in range(len(layers)) for ratio in ratios]
        with reporter.task("sensitivity", len(cells), "layer x ratio trials") as task, Jobs(
                jobs, state, _load_state, (model_file, x, y, mode, criterion, sample)) as pool:
            results = pool.map(_cell, cells, lambda cell, _: task.advance(1, layers[cell[0]]))
    rows = [{**row, "accuracy": results[i * len(ratios):(i + 1) * len(ratios)]}
            for i, row in enumerate(state.rows())]
    return Sensitivity(recipe.name, mode, criterion, list(ratios), accuracy_of(ctx.model, x, y),
                       len(y), rows)


@dataclass(frozen=True, eq=False)
class _Scan:
    """What every cell of a scan reads: the model, the test samples, the layers' scores."""

    model: Any
    x: Any
    y: Any
    scores: Any  # magnitude: per layer, in `names` order; structural: by group
    names: list[str]  # magnitude: the prunable layers
    plan: Any = None  # structural: the groups

    def layers(self) -> list[str]:
        return self.names if self.plan is None else [g.name for g in self.plan.prunable]

    def rows(self) -> list[dict[str, Any]]:
        if self.plan is None:
            return [{"layer": n, "type": type(self.model.get_layer(n)).__name__,
                     "weights": int(self.model.get_layer(n).kernel.shape.num_elements())}
                    for n in self.names]
        return [{"layer": g.name, "type": type(self.plan.graph.layer(g.members[0])).__name__,
                 "width": g.width} for g in self.plan.prunable]


def _state(model: Any, x: Any, y: Any, mode: str, criterion: str, sample: Any) -> _Scan:
    if mode == "magnitude":
        names = [c.name for c in Prune().choose_layers(model) if c.chosen]
        kernels = [model.get_layer(n).kernel for n in names]
        weights = criterion_named(criterion).weight_scores(model, kernels, sample)
        return _Scan(model, x, y, list(weights), names)
    result = plan(model)
    producers = [m for g in result.prunable for m in g.members]
    channels = criterion_named(criterion).channel_scores(model, producers, sample)
    return _Scan(model, x, y, group_scores(result, channels), [], result)


def _load_state(model_file: Path, *args: Any) -> _Scan:
    """A worker's state: the scanned model from its file, the rest as given."""
    return _state(load_own(model_file), *args)


def _cell(state: _Scan, cell: tuple[int, float]) -> float:
    """Test accuracy with layer (or group) `index` alone pruned by `ratio`."""
    index, ratio = cell
    if state.plan is not None:
        one = Plan(state.plan.graph, [state.plan.prunable[index]])
        keep = select(one, state.scores, {"*": ratio}, 1, "uniform")
        return accuracy_of(rebuild(state.plan.graph, keep), state.x, state.y)
    kernel = state.model.get_layer(state.names[index]).kernel
    original = kernel.numpy()
    kernel.assign(original * unstructured_mask(state.scores[index], ratio))
    try:
        return accuracy_of(state.model, state.x, state.y)
    finally:
        kernel.assign(original)
