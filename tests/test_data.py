"""Data sources fitted to the model's input, with errors that name both sides."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge.data import fit_to_model, load_arrays
from prune2edge.errors import DataError


def test_bundled_mnist(tmp_path):
    arrays = load_arrays("builtin:mnist", tmp_path)
    assert arrays["x_train"].shape == (8000, 28, 28) and arrays["x_test"].shape == (2000, 28, 28)
    assert arrays["x_train"].dtype == np.uint8


def test_reshape_and_scale_follow_the_model_input(tiny_arrays):
    flat = fit_to_model(tiny_arrays, (784,), 10, "tiny")
    assert flat.x_train.shape == (640, 784) and flat.x_train.dtype == np.float32
    assert flat.x_train.max() == 1.0
    images = fit_to_model(tiny_arrays, (28, 28, 1), 10, "tiny")
    assert images.x_test.shape == (200, 28, 28, 1)
    assert images.preprocessing == ("reshaped (28, 28) -> (28, 28, 1)",
                                    "scaled uint8 [0, 255] to float32 [0, 1]")


def test_one_hot_labels_become_indices(tiny_arrays):
    arrays = dict(tiny_arrays, y_train=np.eye(10)[tiny_arrays["y_train"]])
    assert np.array_equal(fit_to_model(arrays, (784,), 10, "t").y_train, tiny_arrays["y_train"])


@pytest.mark.parametrize(("change", "shape", "classes", "what"), [
    ({}, (32, 32, 3), 10, "data samples have shape (28, 28) but the model expects (32, 32, 3)"),
    ({}, (784,), 5, "y_train has labels 0..9 but the model has 5 output units"),
    ({"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, int)}, (784,), 10,
     "the test split is empty"),
    ({"y_train": np.zeros(3, int)}, (784,), 10, "x_train has 640 samples but y_train has 3"),
    ({"x_train": np.full((640, 28, 28), np.nan, np.float32)}, (784,), 10,
     "x_train contains NaN or Inf values"),
    ({"y_train": np.full(640, 0.5)}, (784,), 10, "y_train must hold one class index per sample"),
])
def test_mismatches_fail_with_both_sides(tiny_arrays, change, shape, classes, what):
    with pytest.raises(DataError) as info:
        fit_to_model(dict(tiny_arrays, **change), shape, classes, "tiny.npz")
    assert info.value.what.startswith(what)


def test_missing_keys_and_unreadable_files(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros(3))
    with pytest.raises(DataError) as info:
        load_arrays("x.npz", tmp_path)
    assert info.value.what == "missing arrays x_train, y_train, x_test, y_test"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError) as info:
        load_arrays("bad.npz", tmp_path)
    assert info.value.what.startswith("cannot read the data file")
