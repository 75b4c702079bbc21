"""The CPU class latency figures are measured on, read as XNNPACK would choose its kernels."""

from __future__ import annotations

import pytest

from prune2edge import cpu


@pytest.mark.parametrize(("machine", "flags", "tier"), [
    ("x86_64", "avx2 avx512f avx512bw avx512_vnni amx_bf16 amx_tile amx_int8", "amx"),
    ("x86_64", "fpu sse4_2 avx fma avx2 avx512f avx512bw avx512_vnni", "avx512vnni"),
    ("x86_64", "sse4_2 avx fma avx2 avx512f avx512bw", "avx512"),
    ("x86_64", "sse4_2 avx fma avx2 avx_vnni", "avxvnni"),
    ("x86_64", "sse4_2 avx fma avx2 bmi2", "avx2"),  # AMD EPYC, Zen 3
    ("x86_64", "sse4_2 avx", "avx"),
    ("x86_64", "sse4_2", "sse"),
    ("arm64", "fp asimd asimddp", "dotprod"),
    ("arm64", "fp asimd", "neon"),
])
def test_the_widest_simd_names_the_class(machine, flags, tier):
    assert cpu.tier_of(machine, set(flags.split())) == tier
    assert f"{machine} {tier}" in cpu.CLASSES


def test_linux_flags_come_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma\n\n"
                    "processor\t: 1\nflags\t\t: fpu avx avx2 fma\n")
    assert cpu.linux_flags(info) == {"fpu", "avx", "avx2", "fma"}
    info.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp\n")
    assert cpu.linux_flags(info) == {"fp", "asimd", "asimddp"}
    assert cpu.linux_flags(tmp_path / "absent") is None


def test_this_machine_has_a_known_class():
    assert cpu.cpu_class() in cpu.CLASSES
