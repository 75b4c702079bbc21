"""Per-layer-type handlers (see `base`); importing this package registers the built-in ones."""

from .base import (
    DEFAULT,
    HANDLERS,
    Channels,
    Inbound,
    LayerHandler,
    Refit,
    Sliced,
    handler_for,
    out_width,
    output_shape,
    register_handler,
)
from .channelwise import PassThroughHandler, PerChannelHandler
from .merges import MergeHandler
from .operations import ElementwiseOpHandler
from .producers import ProducerHandler

__all__ = ["DEFAULT", "HANDLERS", "Channels", "ElementwiseOpHandler", "Inbound", "LayerHandler",
           "MergeHandler", "PassThroughHandler", "PerChannelHandler", "ProducerHandler", "Refit",
           "Sliced", "handler_for", "out_width", "output_shape", "register_handler"]
