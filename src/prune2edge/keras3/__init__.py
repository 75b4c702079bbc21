"""The Keras 3 engine: Keras 3 models pruned as they are, without tfmot (which only knows
tf_keras). `masking.py`: magnitude masks on a model's variables, held through training by a
callback, with tfmot's schedules and rules (`sparsity/`)."""
