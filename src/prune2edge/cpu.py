"""The CPU class a latency figure was measured on: the architecture and the widest SIMD that
XNNPACK's kernels use there, e.g. "x86_64 avx512vnni" or "arm64 dotprod".

Latency ratios hold across machines of one class, not across classes: the int8 MNIST CNN
(models/mnist_cnn.toml) ran 2.4x faster than its float32 baseline on the AVX-512 machines its
latency budget was set on, 1.4x slower on an AVX2 AMD EPYC (Zen 3), and only 1.5x faster on a
Xeon with AMX, where XNNPACK takes AMX kernels for int8: there the structurally pruned int8
CNN (models/mnist_cnn_fast.toml) needs 30 us against its float32 twin's 9 us, the tiles'
setup costing more than such small layers' arithmetic."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

# (tier, every flag it needs), widest first; flags as Linux's /proc/cpuinfo names them
X86_TIERS = (("amx", {"avx512f", "avx512bw", "amx_tile", "amx_int8"}),
             ("avx512vnni", {"avx512f", "avx512bw", "avx512_vnni"}),
             ("avx512", {"avx512f", "avx512bw"}), ("avxvnni", {"avx2", "fma", "avx_vnni"}),
             ("avx2", {"avx2", "fma"}), ("avx", {"avx"}))
ARM_TIERS = (("dotprod", {"asimddp"}),)
MACHINES = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# Windows' IsProcessorFeaturePresent numbers, for the same tiers
# (VNNI and AMX have no number there: such a CPU counts as plain AVX-512 or AVX2)
WINDOWS_FEATURES = {"avx512f": 41, "avx512bw": 41, "avx2": 40, "fma": 40, "avx": 39}
CLASSES = (*(f"x86_64 {tier}" for tier, _ in X86_TIERS), "x86_64 sse",
           *(f"arm64 {tier}" for tier, _ in ARM_TIERS), "arm64 neon")


def cpu_class() -> str:
    """This machine's class; only the architecture where its SIMD cannot be read."""
    machine = MACHINES.get(platform.machine().lower(), platform.machine().lower())
    flags = _flags(machine)
    if flags is None:
        return machine
    return f"{machine} {tier_of(machine, flags)}"


def tier_of(machine: str, flags: set[str]) -> str:
    tiers = X86_TIERS if machine == "x86_64" else ARM_TIERS
    base = "sse" if machine == "x86_64" else "neon"
    return next((tier for tier, needs in tiers if needs <= flags), base)


def _flags(machine: str) -> set[str] | None:
    if sys.platform.startswith("linux"):
        return linux_flags(Path("/proc/cpuinfo"))
    if sys.platform == "darwin":
        if machine == "arm64":
            return {"asimddp"}  # every Apple silicon core has the dot product
        return _mac_x86_flags()
    if sys.platform == "win32" and machine == "x86_64":
        import ctypes

        present = ctypes.windll.kernel32.IsProcessorFeaturePresent  # type: ignore[attr-defined]
        return {flag for flag, number in WINDOWS_FEATURES.items() if present(number)}
    return None


def linux_flags(cpuinfo: Path) -> set[str] | None:
    """The CPU's feature flags as `cpuinfo` lists them (x86 `flags`, Arm `Features`)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def _mac_x86_flags() -> set[str] | None:
    try:
        out = subprocess.run(["sysctl", "-n", "machdep.cpu.features",
                              "machdep.cpu.leaf7_features"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = {"avx1.0": "avx", "avx512vnni": "avx512_vnni", "avxvnni": "avx_vnni"}
    return {names.get(word.lower(), word.lower()) for word in out.split()}
