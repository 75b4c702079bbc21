"""The recipe's [distribute] table: which `tf.distribute` strategy the training stages run
under, and the strategy itself.

- "none": the default device, as Keras picks it.
- "mirrored": `MirroredStrategy`, one replica per local GPU (or the listed `devices`);
  `cpu_devices = N` splits the CPU into N logical devices first, to try it without GPUs.
- "multi_worker": `MultiWorkerMirroredStrategy`, the workers and this process's place among
  them read from the `TF_CONFIG` environment variable; every worker runs the same command.

`batch_size` is always the global batch: each of R replicas computes batch_size / R samples
per step, so a recipe trains the same number of steps on any number of devices.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Literal

from .. import _compat
from ..errors import BuildFailed, DependencyError, RecipeError


@dataclass(frozen=True, kw_only=True)
class DistributeSpec:
    """The [distribute] table."""

    strategy: Literal["none", "mirrored", "multi_worker"] = "none"
    devices: tuple[str, ...] = ()  # mirrored: e.g. ["/gpu:0", "/gpu:1"]; () = all GPUs
    cpu_devices: int = 0  # mirrored: split the CPU into this many logical devices

    def __post_init__(self) -> None:
        if self.cpu_devices < 0 or self.cpu_devices == 1:
            raise RecipeError(f"cpu_devices must be 0 or >= 2, got {self.cpu_devices}",
                              "distribute.cpu_devices", "use e.g. cpu_devices = 2, or leave it out")
        if self.strategy != "mirrored" and (self.devices or self.cpu_devices):
            raise RecipeError(f"devices and cpu_devices apply to the mirrored strategy, not "
                              f"{self.strategy!r}", "distribute", 'set strategy = "mirrored"')
        if self.devices and self.cpu_devices:
            raise RecipeError("give devices or cpu_devices, not both", "distribute",
                              "cpu_devices = N mirrors over all N logical CPUs")
        if self.strategy == "multi_worker":
            worker_task()  # TF_CONFIG is checked before any work


def worker_task() -> tuple[int, int]:
    """(this worker's index, the number of workers) from TF_CONFIG; the chief is index 0."""
    text = os.environ.get("TF_CONFIG")
    fix = ('set TF_CONFIG, e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
           '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise RecipeError("the multi_worker strategy needs TF_CONFIG", "distribute.strategy", fix)
    try:
        config = json.loads(text)
        workers = config["cluster"].get("chief", []) + config["cluster"]["worker"]
        task = config["task"]
        index = int(task["index"]) + (len(config["cluster"].get("chief", []))
                                      if task["type"] == "worker" else 0)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecipeError(f"TF_CONFIG is not a cluster description ({exc})", "TF_CONFIG",
                          fix) from exc
    return index, len(workers)


def one_machine(spec: DistributeSpec, command: str) -> DistributeSpec:
    """`spec`, refused for commands that run on one machine (tune, sensitivity)."""
    if spec.strategy == "multi_worker":
        raise RecipeError(f"{command} runs on one machine", "distribute.strategy",
                          'use strategy = "mirrored" (or --set distribute.strategy=none) '
                          "here, and multi_worker for prune2edge build")
    return spec


@functools.cache
def strategy_for(spec: DistributeSpec) -> Any | None:
    """The strategy the spec names (None for "none"), made once per process; create it
    before any other TensorFlow work, as TensorFlow requires of logical devices and of
    multi-worker collectives."""
    if spec.strategy == "none":
        return None
    tf = _compat.tf()
    if spec.strategy == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = list(spec.devices) or None
    for device in devices or ():
        _check_present(tf, device)
    if spec.cpu_devices:
        cpu = tf.config.list_physical_devices("CPU")[0]
        logical = [tf.config.LogicalDeviceConfiguration()] * spec.cpu_devices
        try:
            tf.config.set_logical_device_configuration(cpu, logical)
        except RuntimeError as exc:
            if len(tf.config.list_logical_devices("CPU")) != spec.cpu_devices:
                raise BuildFailed("the CPU cannot be split after TensorFlow has started",
                                  "distribute.cpu_devices",
                                  "build in a fresh process (the prune2edge command)") from exc
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def _check_present(tf: Any, device: str) -> None:
    """Refuse a device this machine does not have, before any work (a GPU, say)."""
    try:
        wanted = tf.DeviceSpec.from_string(device)
    except ValueError as exc:
        raise RecipeError(f"{device!r} is not a device name", "distribute.devices",
                          'write e.g. devices = ["/gpu:0", "/gpu:1"]') from exc
    kind = (wanted.device_type or "").upper()
    have = [tf.DeviceSpec.from_string(d.name) for d in tf.config.list_logical_devices(kind)]
    if not any(d.device_index == (wanted.device_index or 0) for d in have):
        seen = ", ".join(d.name for d in tf.config.list_logical_devices()) or "none"
        raise DependencyError(
            f"this machine has no {device} (TensorFlow sees {seen})", "distribute.devices",
            "for GPUs install a TensorFlow build that sees them (pip install "
            "'tensorflow[and-cuda]' on Linux), or leave devices out, or mirror over CPU "
            "cores with cpu_devices = 2")


def describe_strategy(strategy: Any) -> dict[str, Any]:
    """What the report says about the strategy the training ran under."""
    if isinstance(strategy, _compat.tf().distribute.MultiWorkerMirroredStrategy):
        return {"strategy": "MultiWorkerMirroredStrategy",
                "replicas": strategy.num_replicas_in_sync, "workers": worker_task()[1]}
    return {"strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
            "workers": 1}


def refuse_strategy(strategy: Any, kind: str, work: str) -> None:
    """Refuse `kind` under a strategy: moving a model into one goes through a file, which
    tfmot's clustering and quantization-aware wrappers do not read back."""
    if strategy is not None:
        raise RecipeError(f"{kind} cannot train under [distribute]: tfmot's {work} wrappers "
                          "do not read back what they save, which moving a model into a "
                          "strategy needs", "distribute", f"remove the [distribute] table "
                          f"for {work}")
