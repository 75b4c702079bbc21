"""Keras 3 models -> equivalent tf_keras models, so tfmot can prune them.

tfmot works only with Keras 2 (tf_keras). A Keras 3 `.keras` file is loaded with Keras 3
(`safe_mode` on), its layer graph is rebuilt layer by layer from the layers' configs in
tf_keras, the weights are copied, and the two models are run on the same inputs to prove the
translation: a difference beyond float rounding is an error, never a silent change.
"""

from __future__ import annotations

import inspect
import json
import zipfile
from pathlib import Path
from typing import Any

from ... import _compat
from ...errors import ModelError, first_line
from .layers import translation_for
from .ops import Unsupported, activation, builder
from .verify import VERIFY_SAMPLES, verify

# Layer arguments every tf_keras layer takes through **kwargs.
BASE_KWARGS = {"name", "trainable", "dtype", "dynamic", "input_dim", "input_shape",
               "batch_input_shape", "batch_size", "activity_regularizer", "autocast"}


def saved_by_keras3(path: Path) -> bool:
    """True for a .keras archive whose metadata says Keras 3 wrote it."""
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("metadata.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    return str(meta.get("keras_version", "")).startswith("3")


def load(path: Path, safe_mode: bool = True) -> Any:
    """The Keras 3 model in a .keras file Keras 3 saved."""
    keras3 = _compat.keras3()
    if keras3 is None:
        raise ModelError("the file was saved by Keras 3, which is not installed", str(path),
                         "pip install keras>=3")
    try:
        return keras3.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as exc:  # Keras raises many types for unreadable or unsafe files
        message = first_line(exc)
        if "safe_mode" in message or "unsafe" in message.lower():
            fix = "set [model] safe_mode = false only if you trust this file (it runs its code)"
        elif "deserialize" in message or "locate class" in message:
            fix = ("its custom layers must be importable and registered with "
                   "@keras.saving.register_keras_serializable: rebuild the model with built-in "
                   "layers, or load it in a module:function factory that imports them")
        else:
            fix = "check that the file is complete and was saved with model.save()"
        raise ModelError(f"Keras 3 cannot load the model ({message})", str(path), fix) from exc


def is_keras3_model(value: Any) -> bool:
    """Whether `value` is a Keras 3 model (e.g. what a factory returned)."""
    keras3 = _compat.keras3()
    return keras3 is not None and isinstance(value, keras3.Model)


def translate_model(source: Any) -> tuple[Any, dict[str, Any]]:
    """(tf_keras model, translation report) for a Keras 3 model, verified on seeded inputs."""
    keras3 = _compat.keras3()
    if keras3 is None:
        raise ModelError("the model is a Keras 3 model, but Keras 3 is not installed",
                         getattr(source, "name", None), "pip install keras>=3")
    translator = _Translator(keras3)
    model = translator.model(source)
    difference = verify(source, model, translator.pairs, keras3)
    return model, {
        "from": f"keras {keras3.__version__}",
        "to": f"tf_keras {_compat.keras().__version__}",
        "layers": translator.count,
        "operations": translator.operations,
        "registered_translations": translator.custom,
        "dropped_options": translator.dropped,
        "verified_samples": VERIFY_SAMPLES,
        "max_abs_diff": difference,
    }


class _Translator:
    def __init__(self, keras3: Any):
        self.keras3 = keras3
        self.functional = _compat.keras3_functional_class()
        self.keras = _compat.keras()
        self.count = 0
        self.operations = 0
        self.custom: list[str] = []
        self.dropped: list[str] = []
        self._translated: dict[int, Any] = {}
        self.pairs: list[tuple[Any, Any]] = []  # (Keras 3 tensor, tf_keras tensor), top level
        self._depth = 0  # functional models being translated (nested ones inside the first)

    def model(self, source: Any) -> Any:
        self._refuse_untranslatable(source)
        if isinstance(source, self.keras3.Sequential):
            return self._sequential(source)
        if not isinstance(source, self.functional):
            raise ModelError("subclassed Keras 3 models cannot be translated", source.name,
                             'their call() is Python code: build with [model] engine = "keras3" '
                             '(or "auto"), which prunes the model as it is')
        return self._functional(source)

    def _refuse_untranslatable(self, source: Any) -> None:
        """One error naming every operation without a tf_keras translation, and why."""
        refused = []
        for op in getattr(source, "operations", []):
            if isinstance(op, self.keras3.layers.Layer):
                continue
            for args, kwargs, _ in _compat.keras3_calls(op):
                try:
                    if kwargs:
                        raise Unsupported(f"is called with keyword arguments {sorted(kwargs)}")
                    builder(op, args, self._is_source_tensor)
                except Unsupported as reason:
                    refused.append(f"{op.name} ({type(op).__name__}: {reason})")
        if refused:
            raise ModelError(f"Keras 3 operations without a tf_keras translation: "
                             f"{'; '.join(refused)}", source.name,
                             "use layers (e.g. keras.layers.Multiply for two tensors) or the "
                             "operations prune2edge translates (docs/keras3.md)")

    def _is_source_tensor(self, value: Any) -> bool:
        return isinstance(value, self.keras3.KerasTensor)

    def _sequential(self, source: Any) -> Any:
        if not any(translation_for(layer) for layer in source.layers):
            layers = [self.layer(layer) for layer in source.layers]
            model = self.keras.Sequential([self.keras.Input(source.input_shape[1:]), *layers],
                                          name=source.name)
            for old, new in zip(source.layers, layers, strict=True):
                self._copy_weights(old, new)
            return model
        inputs = x = self.keras.Input(source.input_shape[1:])
        for layer in source.layers:
            x = self._call_layer(layer, x)
        return self.keras.Model(inputs, x, name=source.name)

    def _functional(self, source: Any) -> Any:
        top_level = self._depth == 0
        self._depth += 1
        tensors: dict[int, Any] = {}
        inputs = []
        for tensor in source.inputs:
            layer = _compat.keras3_producer(tensor)
            new = self.keras.Input(tuple(tensor.shape[1:]), dtype=tensor.dtype, name=layer.name)
            tensors[id(tensor)] = new
            inputs.append(new)
        for op in source.operations:  # in the graph's order: inputs before their users
            if isinstance(op, self.keras3.layers.InputLayer):
                continue
            is_layer = isinstance(op, self.keras3.layers.Layer)
            for args, kwargs, output_tensors in _compat.keras3_calls(op):
                if is_layer:
                    extra = {k: v for k, v in kwargs.items() if v is not None and k != "training"}
                    if len(args) != 1 or extra:
                        raise ModelError(f"layer {op.name!r} is called with extra arguments",
                                         source.name, "call each layer on its inputs only")
                    outputs = self._call_layer(op, self._map(args[0], tensors, op))
                else:
                    mapped = [self._map(a, tensors, op, constants=True) for a in args]
                    outputs = builder(op, args, self._is_source_tensor)(mapped, self.keras)
                    self.operations += 1
                for old, new in zip(output_tensors, self._flat(outputs), strict=True):
                    tensors[id(old)] = new
                    if top_level:
                        self.pairs.append((old, new))
        outputs = [tensors[id(t)] for t in source.outputs]
        self._depth -= 1
        return self.keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0],
                                name=source.name)

    def _call_layer(self, layer: Any, inputs: Any) -> Any:
        """`layer` applied to translated inputs: through a registered translation, or as the
        tf_keras layer of the same class with the weights copied (a layer called twice in the
        graph is translated once)."""
        custom = translation_for(layer)
        if custom is not None:
            self.count += 1
            self.custom.append(f"{layer.name} ({type(layer).__name__})")
            return custom(layer, inputs, self.keras)
        composite = activation(str(layer.get_config().get("activation")))
        if composite is not None and type(layer).__name__ == "Activation":
            return composite(self.keras, inputs, layer.name)
        translated = self._translated.get(id(layer))
        first_call = translated is None
        if translated is None:
            linear = {"activation": "linear"} if composite is not None else {}
            translated = self._translated[id(layer)] = self.layer(layer, linear)
        outputs = translated(inputs)
        if first_call:
            self._copy_weights(layer, translated)
        if composite is not None:  # the activation tf_keras lacks, after the linear layer
            return composite(self.keras, outputs, f"{layer.name}_activation")
        return outputs

    def _map(self, structure: Any, tensors: dict[int, Any], layer: Any,
             constants: bool = False) -> Any:
        if isinstance(structure, list | tuple):
            return [self._map(item, tensors, layer, constants) for item in structure]
        if constants and not self._is_source_tensor(structure):
            return structure
        if id(structure) not in tensors:
            raise ModelError(f"layer {layer.name!r} reads a tensor from outside the graph",
                             layer.name, "rebuild the model with the functional API")
        return tensors[id(structure)]

    @staticmethod
    def _flat(outputs: Any) -> list[Any]:
        return list(outputs) if isinstance(outputs, list | tuple) else [outputs]

    def layer(self, layer: Any, overrides: dict[str, Any] | None = None) -> Any:
        """The tf_keras layer with the same class and options (weights copied after build),
        `overrides` replacing options."""
        if isinstance(layer, self.keras3.Model):
            self.count += 1
            return self.model(layer)
        name = type(layer).__name__
        cls = getattr(self.keras.layers, name, None)
        if cls is None or type(layer).__module__.split(".")[0] != "keras":
            raise ModelError(f"layer {layer.name!r} ({name}) has no tf_keras equivalent",
                             layer.name, "register a translation for it "
                             "(prune2edge.register_keras3_translation), replace it with "
                             "built-in layers, or save the model with tf_keras")
        config = {**self._config(layer, cls), **(overrides or {})}
        try:
            translated = cls.from_config(config)
        except Exception as exc:  # a config tf_keras cannot take
            raise ModelError(f"layer {layer.name!r} ({name}) cannot be rebuilt in tf_keras "
                             f"({first_line(exc)})", layer.name,
                             "use options both Keras versions support") from exc
        self.count += 1
        return translated  # built on its first call in the new graph; weights are copied then

    def _config(self, layer: Any, cls: type) -> dict[str, Any]:
        accepted = set(BASE_KWARGS)
        for klass in cls.__mro__:  # options handed on through **kwargs to base classes
            if "__init__" in vars(klass):
                accepted |= set(inspect.signature(vars(klass)["__init__"]).parameters)
        config = {}
        for key, value in layer.get_config().items():
            if key.endswith("_initializer"):
                continue  # weights are copied: initializers never run
            if key not in accepted:
                if value not in (None, False, 0, (), [], {}):
                    raise ModelError(f"layer {layer.name!r} uses the Keras 3 option "
                                     f"{key}={value!r}, which tf_keras does not have", layer.name,
                                     "remove the option, or save the model with tf_keras")
                self.dropped.append(f"{layer.name}.{key}")
                continue
            config[key] = _plain(value)
        return config

    def _copy_weights(self, source: Any, target: Any) -> None:
        weights = source.get_weights()
        expected = [tuple(w.shape) for w in target.get_weights()]
        if [tuple(w.shape) for w in weights] != expected:
            raise ModelError(f"layer {source.name!r} stores weights of shapes "
                             f"{[w.shape for w in weights]}, tf_keras expects {expected}",
                             source.name, "this layer cannot be translated")
        target.set_weights(weights)


def _plain(value: Any) -> Any:
    """Keras 3 serialised objects -> the forms tf_keras accepts."""
    if isinstance(value, dict) and "class_name" in value:
        if value["class_name"] == "DTypePolicy":
            return value["config"]["name"]
        return {"class_name": value["class_name"], "config": _plain(value.get("config", {}))}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value
