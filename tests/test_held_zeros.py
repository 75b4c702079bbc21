"""An earlier prune's zeros survive a later prune of other layers: while the chosen layers are
pruned and fine-tuned, a mask holds exactly the zeros the others have (both engines)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_stages as run
from prune2edge import FineTune, Prune, Strip
from prune2edge.engine.model_engine import engine_for
from prune2edge.sparsity.schedules import ConstantSparsity


def _keras3_ctx(ctx):
    import keras3_models
    from prune2edge.engine.prepare import seed_everything

    seed_everything(0)
    model = keras3_models.functional()
    return ctx.set_up(engine=engine_for("keras3", model)).evolve(model=model,
                                                                  baseline_model=model)


def _kernels(model, engine):
    return {layer.name: np.array(engine.prunable_weights(layer)[0].numpy())
            for layer in engine.layers(model) if engine.prunable_weights(layer)}


@pytest.mark.parametrize("engine", ["tf_keras", "keras3"])
def test_a_later_prune_holds_the_zeros_of_the_layers_it_leaves(make_ctx, engine):
    ctx = make_ctx("mlp") if engine == "tf_keras" else _keras3_ctx(make_ctx("mlp"))
    engine_ = ctx.setup.engine
    first, second = [name for name in _kernels(ctx.model, engine_)][-2:]
    pruned = run(ctx, Prune(layers=(first,), schedule=ConstantSparsity(target_sparsity=0.6,
                                                                       frequency=1)),
                 FineTune(epochs=1), Strip())
    again = run(pruned, Prune(layers=(second,), schedule=ConstantSparsity(
        target_sparsity=0.5, frequency=1)))
    assert again.result.zeros_held == [first] and again.result.pruned_layers == [second]
    out = run(again, FineTune(epochs=1, learning_rate=0.01), Strip())
    before = _kernels(pruned.model, engine_)[first]
    after = _kernels(out.model, engine_)
    assert np.array_equal(before == 0, after[first] == 0) and np.mean(before == 0) >= 0.55
    assert not np.array_equal(before, after[first])  # it trained
    assert np.mean(after[second] == 0) == pytest.approx(0.5, abs=0.02)
    untouched = run(ctx, Prune(layers=(second,), schedule=ConstantSparsity()))  # none to hold
    assert untouched.result.zeros_held is None
