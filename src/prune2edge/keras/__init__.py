"""Everything that works on tf_keras models: loading (and Keras 3 translation), facts about a
model, the layer graph, structural surgery, importance criteria, pruning schedules and the
TFLite converter. TensorFlow is imported through `_compat`, on first use only."""
