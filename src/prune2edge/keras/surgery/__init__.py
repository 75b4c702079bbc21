"""Structural surgery: remove whole Dense units and Conv filters and rebuild a smaller model.

`plan` traces channels through the graph, `select` picks the channels to keep (scored by a
criterion, or by OBS's channel saliency in `saliency`), `rebuild` slices the weights and
`refit` reconstructs the layers whose inputs changed by least squares; each layer type's
behaviour lives in one handler class (`handlers`), and channel layouts and their ties in
`layout`.
"""

from .handlers import HANDLERS, Inbound, LayerHandler, Refit, Sliced, register_handler
from .layout import Layout, Segment, Tracer
from .plan import Group, Plan, plan
from .rebuild import check_rebuilt, rebuild
from .refit import refit, refittable
from .saliency import obs_channel_scores
from .select import REDUCTIONS, group_scores, select
from .summary import shrink_report

__all__ = ["HANDLERS", "REDUCTIONS", "Group", "Inbound", "LayerHandler", "Layout", "Plan",
           "Refit", "Segment", "Sliced", "Tracer", "check_rebuilt", "group_scores",
           "obs_channel_scores", "plan", "rebuild", "refit", "refittable", "register_handler",
           "select", "shrink_report"]
