"""Unstructured sparsity without a framework: magnitude masks by tfmot's rules, in NumPy, for
every engine; and the distinct values weights take (clustering)."""
