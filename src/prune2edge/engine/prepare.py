"""The start of a build: a clean, seeded TensorFlow, and the model and data fitted to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import _compat, data
from ..errors import DataError, ModelError
from ..keras import load as keras_load
from ..progress import Reporter
from .context import BuildContext, BuildSetup
from .model_engine import ModelEngine, engine_for


def prepare(model: Any, data_source: Any, *, base_dir: Path, seed: int, work_dir: Path,
            reporter: Reporter, command: str = "",
            keras3_gap: str | None = None) -> tuple[keras_load.LoadedModel, BuildContext]:
    """Load the model and the data fitted to it: the context the first stage starts from.
    A `command` named here (e.g. "tune") runs in the tf_keras engine only; `keras3_gap` is why
    the keras3 engine cannot run the build (engine "auto" then translates a Keras 3 graph)."""
    gap = f"prune2edge {command} runs in the tf_keras engine only" if command else keras3_gap
    loaded = _load_model(model, base_dir, gap)
    asked = getattr(model, "engine", None) or "auto"
    if "translation" in loaded.details and asked == "auto":
        reporter.note(f"Keras 3 graph translated for the tf_keras engine: {gap}")
    if command and loaded.engine != "tf_keras":
        raise ModelError(f"prune2edge {command} runs in the tf_keras engine only, and this "
                         f"model builds in the {loaded.engine} engine", loaded.source,
                         "build it with `prune2edge build` (a functional or Sequential model "
                         'also takes [model] engine = "tf_keras")')
    engine = engine_for(loaded.engine, loaded.model)
    dataset = _load_data(data_source, loaded.model, engine, base_dir, seed)
    if dataset.preprocessing:
        reporter.note(f"data fitted to the model: {'; '.join(dataset.preprocessing)}")
    return loaded, BuildContext(BuildSetup(work_dir, dataset, seed, reporter, engine=engine),
                                model=loaded.model, baseline_model=loaded.model)


def seed_everything(seed: int) -> None:
    """Start from a clean Keras session (so layer names do not depend on earlier models), seed
    Python, NumPy and TensorFlow, and make TensorFlow ops deterministic. Layers with randomness
    (dropout, noise) made from now on draw from `tf.random.Generator`s, which training reseeds
    every epoch (`stages.training`), so a resumed build draws what an uninterrupted one does.
    Keras 3's unseeded draws (a layer's initial weights) come from a generator made here from
    the seed, not from Python's `random` whenever first used: the same weights whatever the
    process imported or drew before."""
    keras = _compat.keras()
    keras.backend.clear_session()
    keras.backend.experimental.enable_tf_random_generator()
    keras.utils.set_random_seed(seed)
    keras3 = _compat.keras3()
    if keras3 is not None:  # Keras 3 layer names start over too, as in a fresh process
        keras3.backend.clear_session(free_memory=False)
        keras3.utils.set_random_seed(seed)  # Python, NumPy, TensorFlow: seeded as above
        _compat.keras3_seed_everything_from(seed)
    _compat.tf().config.experimental.enable_op_determinism()


def _load_model(model: Any, base_dir: Path, gap: str | None) -> keras_load.LoadedModel:
    if isinstance(model, str):
        model = keras_load.ModelSpec(source=model)
    if isinstance(model, keras_load.ModelSpec):
        return keras_load.load(model.source, base_dir, model.safe_mode, model.engine or "auto",
                               translate_graphs=gap is not None)
    return keras_load.loaded(model, f"<{type(model).__name__} {getattr(model, 'name', '')}>",
                             "object", translate_graphs=gap is not None)


def _load_data(source: Any, model: Any, engine: ModelEngine, base_dir: Path,
               seed: int) -> data.Dataset:
    """The data fitted to the model: a mismatch fails here, before any training."""
    shape, classes = engine.input_shape(model), engine.output_units(model)
    if isinstance(source, data.Dataset):
        if tuple(source.x_train.shape[1:]) != shape or source.num_classes != classes:
            raise DataError(f"the Dataset has samples {source.x_train.shape[1:]} and "
                            f"{source.num_classes} classes, the model takes {shape} and has "
                            f"{classes} outputs", source.source, "fit the Dataset to the model")
        return source
    spec = source if isinstance(source, data.DataSpec) else data.DataSpec(source=str(source))
    raw = data.load(spec, base_dir, shape, seed)
    return data.fit_to_model(raw, shape, classes, spec)
