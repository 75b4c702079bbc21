"""How a build runs: the stage contract (facts, traits, registration), the build context, the
order check, pipeline execution with checkpoints, and the build directory."""
