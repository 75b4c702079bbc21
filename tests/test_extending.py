"""Extending prune2edge: a new stage kind in one file, facts checked at definition, checkpointed
extra models, layer-type handlers and importance criteria registered from outside."""

from __future__ import annotations

import dataclasses
import importlib
import sys
import textwrap

import numpy as np
import pytest

from conftest import run_stages
from prune2edge import Convert, Fact, Pipeline, Stage, Train, register_stage
from prune2edge.engine.checkpoint import Checkpointer
from prune2edge.engine.registry import stages
from prune2edge.errors import BuildFailed, RecipeError
from prune2edge.keras.criteria import CRITERIA, Criterion, register_criterion
from prune2edge.keras.surgery import HANDLERS, plan, rebuild, register_handler, select
from prune2edge.keras.surgery.handlers import PerChannelHandler
from prune2edge.recipe import load_recipe


def test_a_new_stage_is_one_file_and_recipes_find_it(write_recipe):
    import toy_distill

    assert stages()["toy_distill"] is toy_distill.ToyDistill
    recipe = load_recipe(write_recipe("""
        [[stages]]
        kind = "train"
        epochs = 1

        [[stages]]
        kind = "toy_distill"
        epochs = 2

        [[stages]]
        kind = "convert"
        """))
    assert [s.kind for s in recipe.stages] == ["train", "toy_distill", "convert"]
    assert recipe.stages[1] == toy_distill.ToyDistill(epochs=2)


@pytest.mark.slow
def test_a_third_party_stage_builds_reports_and_gates_its_own_figure(write_recipe, tmp_path):
    """tests/toy_distill.py alone adds a result field, a report field (kept by report.json
    beside the ones prune2edge names), a report.md section and a budget `check` holds."""
    import json

    import toy_distill  # noqa: F401  (registers the kind and its budget)
    from prune2edge import BuildReport, build, run_check

    recipe = write_recipe("""
        [[stages]]
        kind = "train"
        epochs = 1

        [[stages]]
        kind = "toy_distill"

        [[stages]]
        kind = "convert"
        sparse = "off"

        [budgets]
        min_teacher_accuracy = 0.5
        """)
    report = build(recipe, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    stage = doc["stages"][1]
    assert stage["kind"] == "toy_distill" and stage["outputs"]["teacher"] == "tiny_mlp"
    right = stage["outputs"]["teacher_accuracy"]
    assert 0.5 < right < 1 and doc["distillation"]["teacher_accuracy"] == right
    assert list(doc)[-1] == "distillation"  # after every field prune2edge names
    assert "## Distillation" in (tmp_path / "out" / "report.md").read_text()
    assert doc["budgets"]["verdicts"][0]["check"] == "min_teacher_accuracy"

    loaded = BuildReport.load(tmp_path / "out")
    assert loaded.to_dict() == report.to_dict() == doc
    assert run_check(loaded).ok
    failed = run_check(loaded, budget_overrides=[f"min_teacher_accuracy={right + 0.01}"])
    assert [v.check for v in failed.failures] == ["min_teacher_accuracy"]
    with pytest.raises(Exception, match="looser than the recipe"):
        run_check(loaded, budget_overrides=["min_teacher_accuracy=0.4"])


@pytest.mark.slow
def test_the_new_stage_trains_with_its_teacher_checkpointed_and_resumed(make_ctx, tmp_path):
    from toy_distill import ToyDistill

    pipeline = Pipeline([Train(epochs=1), ToyDistill(epochs=2), Convert(sparse="off")])
    checkpoints = Checkpointer(tmp_path, {"recipe": "r", "data": "d", "model": "m"})
    ctx, records = pipeline.execute(make_ctx(), checkpoints)
    teacher = ctx.models["teacher"]
    assert teacher is ctx.baseline_model and ctx.model is not teacher
    assert records[1].result.epochs == 2 and ctx.tflite["final"].is_file()

    point = checkpoints.load(pipeline.stages)  # saved when toy_distill finished: resume at convert
    assert point.stage_index == 3 and set(point.models) == {"teacher"}
    for saved, live in zip(point.models["teacher"].get_weights(), teacher.get_weights(),
                           strict=True):
        assert np.array_equal(saved, live)
    resumed, records = pipeline.execute(make_ctx(), checkpoints, point)
    assert [r.kind for r in records] == ["train", "toy_distill", "convert"]
    assert set(resumed.models) == {"teacher"}


def test_a_misspelt_fact_fails_at_import(tmp_path, monkeypatch):
    (tmp_path / "misspelt_stage.py").write_text(textwrap.dedent("""
        from dataclasses import dataclass
        from typing import ClassVar
        from prune2edge import Fact, Stage

        @dataclass(frozen=True, kw_only=True)
        class Misspelt(Stage):
            kind: ClassVar[str] = "misspelt"
            requires = frozenset({Fact.WRAPED})
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AttributeError, match="WRAPED"):
        importlib.import_module("misspelt_stage")
    sys.modules.pop("misspelt_stage", None)


def test_facts_given_as_strings_fail_when_the_class_is_defined():
    with pytest.raises(TypeError, match="requires must be a frozenset of Fact members"):
        class Stringly(Stage):
            kind = "stringly"
            requires = frozenset({"wrapped"})


def test_registration_checks_the_kind_and_the_dataclass():
    with pytest.raises(TypeError, match="needs a `kind`"):
        @register_stage
        @dataclasses.dataclass(frozen=True, kw_only=True)
        class NoKind(Stage):
            pass

    with pytest.raises(TypeError, match="frozen dataclass"):
        @register_stage
        class NotADataclass(Stage):
            kind = "not_a_dataclass"

    with pytest.raises(TypeError, match="registered twice"):
        @register_stage
        @dataclasses.dataclass(frozen=True, kw_only=True)
        class AnotherStrip(Stage):
            kind = "strip"


def test_traits_replace_kind_comparisons():
    by_kind = stages()
    assert {k for k, c in by_kind.items() if c.trains} >= {"train", "finetune"}
    assert {k for k, c in by_kind.items() if c.prunes} == {"prune", "structural"}
    assert [k for k, c in by_kind.items() if c.applies_masks] == ["finetune"]
    assert all(isinstance(f, Fact) for c in by_kind.values() for f in c.requires | c.provides)


def test_located_errors_keep_their_attributes_and_their_cause():
    report = object()
    original = BuildFailed("the loss became NaN", "finetune", "lower learning_rate")
    original.report = report
    try:
        try:
            raise ValueError("root cause")
        except ValueError as exc:
            raise original from exc
    except BuildFailed as exc:
        located = exc.located("stage 3")
    assert located.report is report and located.exit_code == 4
    assert str(located) == "the loss became NaN (stage 3: finetune): lower learning_rate"
    assert isinstance(located.__cause__, ValueError)
    assert original.where == "finetune"  # the original is unchanged


def test_a_recipe_error_keeps_the_error_it_was_located_from(write_recipe):
    path = write_recipe('[[stages]]\nkind = "quantize"\nsamples = 0\n')
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert str(path) in caught.value.where and "samples must be >= 1" in str(caught.value)
    assert isinstance(caught.value.__cause__, RecipeError)


def test_a_registered_layer_handler_lets_channels_pass_a_custom_layer():
    from prune2edge import _compat

    keras = _compat.keras()

    @keras.utils.register_keras_serializable("prune2edge_tests")
    class Scale(keras.layers.Layer):
        """A per-channel scale: a layer type surgery does not know by default."""

        def build(self, shape):
            self.scale = self.add_weight(name="scale", shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.scale

    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, name="out")(Scale(name="scale")(hidden))
    model = keras.Model(inputs, outputs)
    model.layers[2].set_weights([np.arange(1, 9, dtype=np.float32)])
    assert "its channels reach a Scale layer" in plan(model).groups[0].reasons[0]

    register_handler("Scale")(PerChannelHandler)
    try:
        planned = plan(model)
        keep = select(planned, {"hidden": np.arange(8.0)}, {"*": 0.5}, 1, "uniform")
        smaller = rebuild(planned.graph, keep)
    finally:
        del HANDLERS["Scale"]
    assert smaller.get_layer("hidden").units == 4
    assert smaller.layers[2].get_weights()[0].tolist() == [5.0, 6.0, 7.0, 8.0]
    x = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    dense_kept = model.layers[1](x).numpy()[:, 4:] * np.arange(5, 9)
    expected = dense_kept @ model.layers[3].get_weights()[0][4:] + model.layers[3].get_weights()[1]
    assert np.allclose(smaller(x).numpy(), expected, atol=1e-5)


def test_a_layer_type_is_one_handler_class_macs_slicing_and_refit(make_ctx):
    """A custom per-channel gain: one handler says how channels pass it, slices its weights,
    counts its multiply-accumulates and refits it; structural pruning then uses all four."""
    from prune2edge import Structural, _compat
    from prune2edge.keras.surgery import Refit

    keras = _compat.keras()

    @keras.utils.register_keras_serializable("prune2edge_tests")
    class Gain(keras.layers.Layer):
        def build(self, shape):
            self.gain = self.add_weight(name="gain", shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.gain

    class GainHandler(PerChannelHandler):
        def macs(self, layer):
            return int(np.prod(layer.output_shape[1:]))

        def refits(self, layer):
            return True

        def refit(self, layer, old, case: Refit):
            """Per channel, the gain g minimising ||g x_new - g_old x_old||² in closed form."""
            kept = np.arange(case.old_in.shape[-1]) if case.inbound is None else case.inbound
            xn, target = case.new_in, case.old_in[:, kept] * old.gain.numpy()[kept]
            start = layer.gain.numpy()
            fitted = (xn * target).sum(0) / np.maximum((xn * xn).sum(0), 1e-12)
            errors = [float(((xn * g - target) ** 2).sum() / (target ** 2).sum())
                      for g in (start, fitted)]
            layer.gain.assign(fitted)
            return errors[0], errors[1]

    inputs = keras.Input((28, 28))
    x = keras.layers.Dense(12, activation="relu", name="h1")(keras.layers.Flatten()(inputs))
    x = Gain(name="gain")(keras.layers.Dense(8, name="h2")(x))
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(keras.layers.ReLU()(x))
    model = keras.Model(inputs, outputs)
    model.get_layer("gain").set_weights([np.linspace(0.5, 2.0, 8, dtype=np.float32)])
    register_handler("Gain")(GainHandler)
    try:
        out = run_stages(make_ctx(model=model, baseline_model=model),
                         Structural(ratio=0.5, min_width=1, reconstruct=True))
    finally:
        del HANDLERS["Gain"]
    rows = {row["layer"]: row for row in out.result.layers}
    assert (rows["gain"]["macs_before"], rows["gain"]["macs_after"]) == (8, 4)
    assert out.model.get_layer("gain").get_weights()[0].shape == (4,)
    refits = {row["layer"]: row for row in out.result.reconstruction}
    assert refits["gain"]["output_error_after"] < refits["gain"]["output_error_before"]
    assert [k["members"] for k in out.result.kept] == [["h1"], ["h2"]]
    assert all(len(k["channels"].split(",")) >= 1 for k in out.result.kept)


def test_macs_of_one_dimensional_depthwise_and_separable_convolutions():
    """Counted by their handlers (they once counted 0, so tune under-counted 1-D models)."""
    from prune2edge import _compat
    from prune2edge.keras.surgery.costs import layer_costs

    keras = _compat.keras()
    inputs = keras.Input((20, 3))
    x = keras.layers.DepthwiseConv1D(5, depth_multiplier=2, name="dw")(inputs)  # 16 x 6 out
    x = keras.layers.SeparableConv1D(4, 3, strides=2, padding="same", name="sep")(x)  # 8 x 4
    x = keras.layers.DepthwiseConv2D(3, name="dw2")(keras.layers.Reshape((8, 4, 1))(x))
    costs = layer_costs(keras.Model(inputs, x))
    assert costs["dw"]["macs"] == 16 * 5 * 3 * 2
    assert costs["sep"]["macs"] == 8 * 3 * 6 + 8 * 6 * 4  # depthwise, then pointwise
    assert costs["dw2"]["macs"] == 6 * 2 * 9 * 1


def test_a_registered_criterion_ranks_channels_for_structural_pruning(make_ctx):
    from prune2edge import Structural

    @register_criterion
    class Last(Criterion):
        """Keeps the first channels: the later a channel, the less it matters."""

        name = "test_last"

        def channel_scores(self, model, layers, x=None):
            return {n: -np.arange(model.get_layer(n).get_weights()[0].shape[-1], dtype=float)
                    for n in layers}

    try:
        out = run_stages(make_ctx(), Structural(criterion="test_last", ratio=0.5))
    finally:
        del CRITERIA["test_last"]
    assert out.result.criterion == "test_last"
    assert out.model.get_layer("dense").units == 16
    with pytest.raises(RecipeError, match="ranks whole units, not single weights"):
        Last().weight_scores(out.model, [])
