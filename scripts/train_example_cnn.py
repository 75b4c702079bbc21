"""Train the MNIST CNN once and save it: the trained model that the calibration-only recipe
(models/mnist_cnn_calibrated.toml) starts from, as a deploy engineer would hold one.

It is mnist_cnn.toml's model after that recipe's train stage (seeded, so the run repeats),
saved with tf_keras as models/mnist_cnn_trained.keras.

    python scripts/train_example_cnn.py [--out models/mnist_cnn_trained.keras]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from prune2edge import Pipeline, Train, load_recipe
from prune2edge.engine.prepare import prepare, seed_everything
from prune2edge.keras.model import accuracy, clone
from prune2edge.progress import Reporter

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "mnist_cnn_trained.keras")
    args = parser.parse_args()
    recipe = load_recipe(ROOT / "models" / "mnist_cnn.toml")
    seed_everything(recipe.seed)
    with tempfile.TemporaryDirectory() as work:
        _, ctx = prepare(recipe.model, recipe.data, base_dir=recipe.base_dir, seed=recipe.seed,
                         work_dir=Path(work), reporter=Reporter())
        train = next(s for s in recipe.stages if isinstance(s, Train))
        ctx, _ = Pipeline([train]).execute(ctx)
    clone(ctx.model).save(args.out)  # uncompiled: a model to deploy, without optimizer state
    score = accuracy(ctx.model, ctx.setup.data.x_test, ctx.setup.data.y_test)
    print(f"wrote {args.out}: test accuracy {score:.2%}")


if __name__ == "__main__":
    main()
