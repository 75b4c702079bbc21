"""Dropping the strings a .tflite file does not need to run (LiteRT's own
`flatbuffer_utils.strip_strings`): tensor and subgraph names, the description and the
signature defs. Operator codes and metadata stay, so every runtime still runs the file; tools
that look tensors up by name or call signatures will not find them."""

from __future__ import annotations

from .. import _compat


def strip_names(content: bytes) -> bytes:
    """The same model without its nonessential strings."""
    flatbuffers = _compat.flatbuffer_utils()
    model = flatbuffers.convert_bytearray_to_object(bytearray(content))
    flatbuffers.strip_strings(model)
    return bytes(flatbuffers.convert_object_to_bytearray(model))
