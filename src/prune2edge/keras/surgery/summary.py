"""What surgery changed, layer by layer: widths, parameters and multiply-accumulates."""

from __future__ import annotations

from typing import Any

import numpy as np

from .costs import layer_costs
from .handlers import output_shape
from .plan import Plan


def shrink_report(plan_: Plan, after: Any, keep: dict[str, np.ndarray]) -> dict[str, Any]:
    """Width, parameters and multiply-accumulates per layer, before (the planned model, with
    nested models inlined) and after; and the old channels each prunable group kept (its
    pruning history: enough to explain and repeat the cut)."""
    before = plan_.graph.model
    cost_before, cost_after = layer_costs(before), layer_costs(after)
    rows = []
    for name, cost in cost_before.items():
        layer = before.get_layer(name)
        new = cost_after.get(name, {"params": 0, "macs": 0})
        rows.append({"layer": name, "type": type(layer).__name__,
                     "width_before": int(output_shape(layer)[-1]),
                     "width_after": int(output_shape(after.get_layer(name))[-1]),
                     "params_before": cost["params"], "params_after": new["params"],
                     "macs_before": cost["macs"], "macs_after": new["macs"]})
    skipped = [{"layers": g.members, "reason": "; ".join(g.reasons)}
               for g in plan_.groups if not g.prunable]
    return {
        "layers": rows,
        "skipped": skipped,
        "groups": [g.members for g in plan_.prunable if len(g.members) > 1],
        "params_before": int(before.count_params()), "params_after": int(after.count_params()),
        "macs_before": sum(c["macs"] for c in cost_before.values()),
        "macs_after": sum(c["macs"] for c in cost_after.values()),
        "channels_removed": int(sum(g.width - len(keep[g.members[0]])
                                    for g in plan_.prunable)),
        "kept": [{"members": g.members, "width": g.width,
                  "channels": index_ranges(keep[g.members[0]])} for g in plan_.prunable],
    }


def index_ranges(indices: np.ndarray) -> str:
    """Sorted channel indices as runs, e.g. [0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    runs: list[list[int]] = []
    for index in map(int, indices):
        if runs and index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return ",".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)
