"""A plan for people: each group of producers, its width, its share of the model's
multiply-accumulates, and whether it can be pruned or why not (`prune2edge structure`)."""

from __future__ import annotations

from typing import Any

from .costs import layer_costs
from .plan import Plan


def describe_plan(plan_: Plan) -> dict[str, Any]:
    """The plan as JSON-able data: totals, then one row per group, largest MACs first."""
    costs = layer_costs(plan_.graph.model)
    total = sum(c["macs"] for c in costs.values()) or 1
    rows: list[dict[str, Any]] = []
    for group in plan_.groups:
        macs = sum(costs.get(m, {"macs": 0})["macs"] for m in group.members)
        rows.append({"members": group.members, "width": group.width, "step": group.step,
                     "macs": macs, "macs_share": macs / total, "prunable": group.prunable,
                     "reasons": group.reasons})
    rows.sort(key=lambda row: -int(row["macs"]))
    producers = sum(len(g.members) for g in plan_.groups)
    return {
        "model": plan_.graph.model.name,
        "layers": len(plan_.graph.layers),
        "producers": producers,
        "prunable_producers": sum(len(g.members) for g in plan_.prunable),
        "groups": len(plan_.groups),
        "prunable_groups": len(plan_.prunable),
        "macs": total,
        "prunable_macs_share": sum(r["macs_share"] for r in rows if r["prunable"]),
        "rows": rows,
    }
