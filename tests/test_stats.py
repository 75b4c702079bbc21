"""Accuracy intervals and the paired drop test, against cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prune2edge.report.stats import Paired, mcnemar_exact, paired_difference, wilson


def test_wilson_interval_of_8_out_of_10():
    # by hand: centre (0.8 + 1.92/10) / 1.384 = 0.7167, half 0.1960 / 1.384 * 1.7263 = 0.2265
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0


def test_mcnemar_exact_by_hand():
    # 10 discordant samples, 1 against 9: 2 x (C(10,0) + C(10,1)) / 2^10 = 22 / 1024
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_paired_interval_is_close_to_wald_on_many_samples():
    both, b, c, neither = 1900, 30, 10, 60
    n = both + b + c + neither
    low, high = paired_difference(both, b, c, neither)
    d = (b - c) / n
    half = 1.96 * math.sqrt(b + c - (b - c) ** 2 / n) / n
    assert low < d < high
    assert low == pytest.approx(d - half, abs=5e-4) and high == pytest.approx(d + half, abs=5e-4)


def test_paired_interval_without_discordant_samples_still_has_width():
    low, high = paired_difference(90, 0, 0, 10)
    assert low < 0 < high


def test_paired_figures_from_per_sample_correctness():
    baseline = np.array([1, 1, 1, 1, 0, 0, 1, 1, 1, 1], bool)
    final = np.array([1, 0, 0, 1, 0, 1, 1, 1, 0, 1], bool)
    paired = Paired.of(baseline, final)
    assert (paired.both, paired.b, paired.c, paired.neither) == (5, 3, 1, 1)
    doc = paired.to_dict()
    assert doc["mcnemar_p"] == pytest.approx(2 * 5 / 16)  # (C(4,0) + C(4,1)) / 2^4, doubled
    assert doc["verdict"].startswith("the difference is within noise")
    low, high = doc["change_pt_95"]
    assert low < -20.0 < high  # the point change: (1 - 3) / 10
