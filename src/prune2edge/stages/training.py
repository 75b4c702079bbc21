"""What `train` and `finetune` share: optimizer and fit parameters, and one fit loop."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..data.stream import Stream, reading, subset, training
from ..engine.context import BuildContext
from ..engine.distribute import describe_strategy
from ..engine.model_engine import reloaded
from ..engine.stage import Stage
from ..errors import BuildFailed, DataError, RecipeError
from ..keras import distill
from ..keras.model import accuracy
from ..report.results import StageResult, Trained

OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
REPLICATED = ".replicated.keras"  # where a model passes into and out of a strategy
VALIDATION_BATCH = 256  # samples per batch when the held-out share is evaluated


@dataclass(frozen=True, kw_only=True)
class TrainingStage(Stage):
    """What every training stage shares: optimizer and fit parameters, and one fit loop that
    checkpoints after every epoch and stops on a non-finite loss."""

    trains: ClassVar[bool] = True
    Result: ClassVar[type[StageResult]] = Trained

    epochs: int = 5
    batch_size: int = 32
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float | None = None  # None: the optimizer's own default
    validation_split: float = 0.1

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise RecipeError(f"epochs must be >= 1, got {self.epochs}", "epochs",
                              "train for at least one epoch")
        if self.batch_size < 1:
            raise RecipeError(f"batch_size must be >= 1, got {self.batch_size}", "batch_size",
                              "use e.g. 32")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise RecipeError(f"learning_rate must be > 0, got {self.learning_rate}",
                              "learning_rate", "use e.g. 0.001, or leave it out")
        if not 0.0 <= self.validation_split < 1.0:
            raise RecipeError(f"validation_split must be in [0, 1), got {self.validation_split}",
                              "validation_split", "hold out a fraction such as 0.1, or 0")

    def summary(self) -> str:
        return f"{self.epochs} epochs, batch {self.batch_size}, {self.optimizer}"

    def fit_samples(self, train_samples: int) -> int:
        """Samples Keras trains on after holding out the validation split (Keras' own rule)."""
        return int(train_samples * (1.0 - self.validation_split))

    def total_steps(self, train_samples: int) -> int:
        return self.epochs * math.ceil(self.fit_samples(train_samples) / self.batch_size)

    def preflight(self, ctx: BuildContext) -> None:
        samples = self.fit_samples(len(ctx.setup.data.x_train))
        if samples < self.batch_size:
            raise DataError(
                f"{self.kind} has {samples} training samples for batch_size {self.batch_size}",
                ctx.setup.data.source, "use more data, a smaller batch_size or validation_split")

    def fit(self, ctx: BuildContext, model: Any, callbacks: list[Any],
            teacher: distill.Teacher | None = None) -> tuple[Any, Trained]:
        """Train `model` (continuing a resumed stage after its finished epochs) under the
        build's distribution strategy, if any; return the trained model (`model` itself
        without a strategy) and the stage's result. With a `teacher`, distill from it."""
        engine = ctx.setup.engine
        keras = engine.keras()
        strategy = ctx.setup.strategy
        if strategy is not None:  # its variables (and optimizer state) live in the strategy
            model = reloaded(engine, model, ctx.setup.work_dir / REPLICATED, ctx.masks,
                             strategy.scope())
        from_logits = not engine.outputs_probabilities(model)
        epoch_logs = list(ctx.control.resume_logs)
        data = ctx.setup.data
        targets = data.y_train if teacher is None else distill.pack(
            data.y_train, distill.teacher_logits(teacher.model, data.x_train,
                                                 not engine.outputs_probabilities(teacher.model)))
        if not epoch_logs or model.optimizer is None:  # a resumed model keeps its optimizer
            optimizer_cls = getattr(keras.optimizers, OPTIMIZERS[self.optimizer])
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
                metric: Any = "accuracy"
                if teacher is not None:
                    loss, metric = distill.loss_and_metric(keras, teacher.temperature,
                                                           teacher.weight, from_logits)
                optimizer = (optimizer_cls() if self.learning_rate is None
                             else optimizer_cls(learning_rate=self.learning_rate))
                model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
        steps = self.total_steps(len(data.x_train))

        def checkpoint() -> None:
            if ctx.control.on_epoch_end is not None:
                ctx.control.on_epoch_end(model, epoch_logs)

        if len(epoch_logs) < self.epochs:
            with ctx.setup.reporter.task(self.kind, steps, "steps") as task:
                if epoch_logs:
                    task.advance(steps * len(epoch_logs) // self.epochs,
                                 f"resumed after epoch {len(epoch_logs)}")
                monitor = _monitor(keras, task, self.epochs, steps // self.epochs, epoch_logs,
                                   checkpoint)
                with reading(data.x_train):
                    model.fit(**self._fit_data(data.x_train, targets, ctx, len(epoch_logs)),
                              epochs=self.epochs, initial_epoch=len(epoch_logs), verbose=0,
                              callbacks=[*callbacks, _reseeding(engine, model, ctx.setup.seed,
                                                                ctx.control.index), monitor])
            if monitor.bad_epoch is not None:
                raise BuildFailed(
                    f"the loss became NaN or Inf in epoch {monitor.bad_epoch} of {self.kind}",
                    f"{self.kind}, learning_rate={self.learning_rate or 'default'}",
                    "lower learning_rate, or check the data for extreme values")
        steps_run = int(model.optimizer.iterations.numpy())
        if strategy is not None:  # back on the default device for the stages after
            model = reloaded(engine, model, ctx.setup.work_dir / REPLICATED, ctx.masks)
        logs = {k.replace("label_accuracy", "accuracy"): v for k, v in epoch_logs[-1].items()}
        test_accuracy = accuracy(model, data.x_test, data.y_test)
        loss_fn = (f"sparse_categorical_crossentropy(from_logits={from_logits})"
                   if teacher is None else teacher.describe())
        return model, Trained(epochs=len(epoch_logs), loss=logs["loss"],
                              train_accuracy=logs["accuracy"],
                              val_accuracy=logs.get("val_accuracy"),
                              test_accuracy=float(test_accuracy), loss_fn=loss_fn,
                              steps=steps_run,
                              **({} if strategy is None else describe_strategy(strategy)))


    def _fit_data(self, x: np.ndarray | Stream, targets: np.ndarray, ctx: BuildContext,
                  done: int) -> dict[str, Any]:
        """Keras `fit` arguments: `validation_split` of the samples held out (drawn with the
        build's seed), the rest in a fresh order every epoch that depends only on the seed,
        the stage's place in the pipeline and the epoch's number, so that a build resumed at
        epoch k trains on what an uninterrupted one does."""
        cut = self.fit_samples(len(x))
        order = np.random.default_rng(ctx.setup.seed).permutation(len(x))
        kept, held = np.sort(order[:cut]), np.sort(order[cut:])
        seeds = [epoch_seeds(ctx.setup.seed, ctx.control.index, epoch, 1)[0]
                 for epoch in range(done, self.epochs)]
        args: dict[str, Any] = {
            "x": training(subset(x, kept), targets[kept], self.batch_size, seeds),
            "steps_per_epoch": math.ceil(cut / self.batch_size)}
        if len(held):
            batch = max(self.batch_size, VALIDATION_BATCH)
            if isinstance(x, Stream):
                args["validation_data"] = x.subset(held).dataset(batch, targets[held])
            else:
                args |= {"validation_data": (x[held], targets[held]),
                         "validation_batch_size": batch}
        return args


def epoch_seeds(seed: int, stage_index: int, epoch: int, count: int) -> list[int]:
    """`count` seeds for one training epoch: its sample order's, then each random layer's."""
    state = np.random.SeedSequence((seed, stage_index, epoch)).generate_state(count)
    return [int(value) for value in state]


def _reseeding(engine: Any, model: Any, seed: int, stage_index: int) -> Any:
    """A callback that reseeds the model's random layers (dropout, noise) at the start of
    every epoch, from the build's seed, the stage's place and the epoch's number."""

    def reseed(epoch: int, logs: Any = None) -> None:
        reseeders = engine.reseeders(model)
        for reseeder, value in zip(reseeders, epoch_seeds(seed, stage_index, epoch,
                                                          1 + len(reseeders))[1:],
                                   strict=True):
            reseeder(value)

    return engine.keras().callbacks.LambdaCallback(on_epoch_begin=reseed)


def epoch_line(logs: dict[str, float]) -> str:
    """'loss 0.1234, accuracy 96.10%, val_loss 0.1500, val_accuracy 95.50%'."""
    return ", ".join(f"{name} {value:.2%}" if "accuracy" in name else f"{name} {value:.4f}"
                     for name, value in logs.items())


def _monitor(keras: Any, task: Any, epochs: int, steps_per_epoch: int,
             epoch_logs: list[dict[str, float]], checkpoint: Any) -> Any:
    """A callback that collects each epoch's logs (checkpointing after it) and stops on a
    non-finite loss. It advances the progress task per batch only when the task is live:
    batch-level hooks make Keras fetch every batch's logs, which slows training."""

    class Monitor(keras.callbacks.Callback):
        bad_epoch: int | None = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if not np.isfinite(logs.get("loss", 0.0)):
                self.bad_epoch = self.epoch
            if self.bad_epoch is None:
                epoch_logs.append(logs)
                checkpoint()
            else:
                self.model.stop_training = True
            if not task.live:
                task.advance(steps_per_epoch, f"epoch {self.epoch}/{epochs}")
            if self.bad_epoch is None:
                task.log(f"epoch {self.epoch}/{epochs}: {epoch_line(logs)}")

    class LiveMonitor(Monitor):
        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not np.isfinite(loss):
                self.bad_epoch = self.epoch
                self.model.stop_training = True
            status = f"epoch {self.epoch}/{epochs}"
            if loss is not None:
                status += f"  loss {loss:.4f}"
            task.advance(1, status)

    return LiveMonitor() if task.live else Monitor()
