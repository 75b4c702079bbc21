"""The int8 side of conversion: which ops stay in float (named in the recipe, or found by
accuracy control) and the per-layer error of the file that results, as the report shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _compat
from ..errors import BuildFailed, RecipeError
from ..keras.converter import QuantizationPlan
from ..keras.model import all_layers, predict
from ..progress import Reporter
from ..tflite.runner import TFLiteRunner, model_file
from .calibrated import Calibrated
from .control import Attempt, Outcome, accuracy_control, judge
from .layers import LayerError, layer_errors

PROBE_SAMPLES = 100  # samples the quantization debugger runs (one invocation each)


@dataclass(frozen=True, eq=False)
class Int8:
    """A calibrated model, the ops to keep in float, and what the report says about them."""

    calibrated: Calibrated
    float_nodes: tuple[str, ...]
    described: dict[str, Any]  # the report's int8 section


def plan_int8(model: Any, plan: QuantizationPlan, reporter: Reporter | None = None) -> Int8:
    """Calibrate `model` once, measure its per-layer errors, keep `plan.float_layers` in float
    and, with `plan.control`, the worst ops until int8 agrees with Keras."""
    reporter = reporter or Reporter()
    if plan.check is None:
        raise BuildFailed("the int8 plan has no held-out samples to measure errors on",
                          "quantization int8", "make the plan with the quantize stage")
    calibrated = Calibrated.of(model, plan)
    x, labels = plan.check
    names = [layer.name for layer in all_layers(model)]
    outputs = getattr(model, "output_names", None) or ()  # a subclassed Keras 3 model: none
    keras3 = not isinstance(model, _compat.keras().Model)

    def rank(nodes: tuple[str, ...]) -> list[LayerError]:
        return layer_errors(calibrated, x[:PROBE_SAMPLES], names, outputs, nodes, keras3)

    all_int8 = rank(())
    start = _nodes_of(plan.float_layers, all_int8)
    outcome = Outcome(start, rank(start) if start else all_int8)
    if plan.control is not None:
        keras_out = predict(model, x)
        labels_of = {e.node: e.label for e in all_int8}

        def attempt(nodes: tuple[str, ...]) -> Attempt:
            content = calibrated.quantize(nodes)
            with model_file(content) as path:
                outputs = TFLiteRunner(path).predict(x)
            return judge(keras_out, outputs, labels, tuple(labels_of[n] for n in nodes),
                         len(content))

        def progress(tried: Attempt) -> None:
            kept = ", ".join(tried.float_layers) or "none"
            reporter.note(f"accuracy control: float {kept}: agreement {tried.agreement:.2%}, "
                          f"accuracy change {tried.change_pt:+.2f} pt")

        outcome = accuracy_control(plan.control, start, outcome.errors, attempt, rank,
                                   progress)
    return Int8(calibrated, outcome.float_nodes, _describe(outcome, all_int8, plan, len(x)))


def _nodes_of(layers: tuple[str, ...], errors: list[LayerError]) -> tuple[str, ...]:
    """The ops the named Keras layers were fused into."""
    nodes: dict[str, None] = {}
    for name in layers:
        found = [e.node for e in errors if name in e.layers]
        if not found:
            known = sorted({layer for e in errors for layer in e.layers})
            raise RecipeError(f"float_layers names {name!r}, which no int8 op comes from",
                              "float_layers", f"name layers of the model: {', '.join(known)}")
        nodes.update(dict.fromkeys(found))
    return tuple(nodes)


def _describe(outcome: Outcome, all_int8: list[LayerError], plan: QuantizationPlan,
              checked: int) -> dict[str, Any]:
    labels = {e.node: e.label for e in all_int8}
    described: dict[str, Any] = {
        "probe_samples": min(PROBE_SAMPLES, checked),
        "float_layers": [labels[node] for node in outcome.float_nodes],
        "float_nodes": list(outcome.float_nodes),
        "layer_errors": [e.to_dict() for e in outcome.errors]}
    if outcome.float_nodes:
        described["all_int8_errors"] = [e.to_dict() for e in all_int8]
    if plan.control is not None:
        described["accuracy_control"] = {
            **plan.describe()["accuracy_control"], "samples": checked, "met": outcome.met,
            "attempts": [a.to_dict() for a in outcome.attempts]}
    return described
