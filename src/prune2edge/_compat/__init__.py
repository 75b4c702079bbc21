"""The only package that imports TensorFlow, tf_keras, Keras 3, tfmot and LiteRT, and the only
one that touches their private APIs.

Everything is imported on first use, so `prune2edge --help` and recipe checks stay instant.
Each private API names the version it was checked against; a test exercises each one, so an
upgrade that breaks it fails there first. Callers use the names re-exported here.
"""

from .converter import (
    converter_switches,
    litert_ops,
    tflite_quantize,
    tflite_sparsify,
)
from .core import (
    flatbuffer_utils,
    is_graph_network,
    keras,
    keras3,
    keras3_engine,
    keras3_imported,
    litert,
    pyplot,
    random_generators,
    tf,
    tflm,
)
from .keras3_internals import (
    is_keras3_node,
    is_keras3_operation,
    keras3_call_of,
    keras3_calls,
    keras3_consumers,
    keras3_functional_class,
    keras3_input_shape,
    keras3_is_graph,
    keras3_producer,
    keras3_seed_everything_from,
    keras3_seed_states,
    keras3_sublayers,
    keras3_training,
)
from .tfmot import (
    is_prunable_layer,
    tfmot_centroids_per_tensor,
    tfmot_clusterable_weights,
    tfmot_clustering,
    tfmot_combine,
    tfmot_per_tensor,
    tfmot_quantization,
    tfmot_sparsity,
    tfmot_weight_names,
)

__all__ = [
    "converter_switches",
    "flatbuffer_utils",
    "is_graph_network",
    "is_keras3_node",
    "is_keras3_operation",
    "is_prunable_layer",
    "keras",
    "keras3",
    "keras3_call_of",
    "keras3_calls",
    "keras3_consumers",
    "keras3_engine",
    "keras3_functional_class",
    "keras3_imported",
    "keras3_input_shape",
    "keras3_is_graph",
    "keras3_producer",
    "keras3_seed_everything_from",
    "keras3_seed_states",
    "keras3_sublayers",
    "keras3_training",
    "litert",
    "litert_ops",
    "pyplot",
    "random_generators",
    "tf",
    "tflite_quantize",
    "tflite_sparsify",
    "tflm",
    "tfmot_centroids_per_tensor",
    "tfmot_clusterable_weights",
    "tfmot_clustering",
    "tfmot_combine",
    "tfmot_per_tensor",
    "tfmot_quantization",
    "tfmot_sparsity",
    "tfmot_weight_names",
]
