"""Data sources fitted to the model's input, with errors that name both sides."""

from __future__ import annotations

import numpy as np
import pytest

from prune2edge.data import DataSpec, RawData, fit_to_model, load, split
from prune2edge.data.stream import Stream
from prune2edge.errors import DataError, RecipeError


def fit(arrays, shape, classes=10, **spec):
    return fit_to_model(RawData(arrays, "tiny"), shape, classes, DataSpec(source="x", **spec))


def test_bundled_mnist(tmp_path):
    arrays = load(DataSpec(), tmp_path, (28, 28)).arrays
    assert arrays["x_train"].shape == (8000, 28, 28) and arrays["x_test"].shape == (2000, 28, 28)
    assert arrays["x_train"].dtype == np.uint8


def test_reshape_and_scale_follow_the_model_input(tiny_arrays):
    flat = fit(tiny_arrays, (784,))
    assert flat.x_train.shape == (640, 784) and flat.x_train.dtype == np.float32
    assert flat.x_train.max() == 1.0
    images = fit(tiny_arrays, (28, 28, 1))
    assert images.x_test.shape == (200, 28, 28, 1)
    assert images.preprocessing == ("scaled uint8 [0, 255] to float32 [0, 1]",)
    assert fit(tiny_arrays, (784,)).preprocessing[0] == "reshaped (28, 28) -> (784,)"


def test_channels_and_size_follow_an_rgb_model(tiny_arrays):
    rgb = fit(tiny_arrays, (32, 32, 3))
    assert rgb.x_train.shape == (640, 32, 32, 3)
    assert rgb.preprocessing == ("gray -> RGB (channel repeated)",
                                 "resized 28x28 -> 32x32 (bilinear)",
                                 "scaled uint8 [0, 255] to float32 [0, 1]")
    assert np.array_equal(rgb.x_train[..., 0], rgb.x_train[..., 2])
    gray = fit({k: (np.repeat(v[..., None], 3, -1) if k.startswith("x") else v)
                for k, v in tiny_arrays.items()}, (28, 28, 1))
    assert gray.preprocessing[0] == "RGB -> gray (BT.601 luma)"
    assert np.allclose(gray.x_train[..., 0], tiny_arrays["x_train"] / 255, atol=1e-5)


def test_explicit_preprocessing(tiny_arrays):
    assert fit(tiny_arrays, (784,), scale="none").x_train.max() == 255.0
    assert fit(tiny_arrays, (784,), scale=0.5).x_train.max() == 127.5
    with pytest.raises(DataError) as info:
        fit(tiny_arrays, (32, 32, 1), resize=False)
    assert info.value.what == "images are 28x28 but the model expects 32x32"
    with pytest.raises(DataError) as info:
        fit(tiny_arrays, (28, 28, 3), channels="keep")
    assert info.value.what == "images have 1 channels but the model expects 3"
    with pytest.raises(RecipeError):
        DataSpec(test_split=1.0)


def test_one_hot_labels_become_indices(tiny_arrays):
    arrays = dict(tiny_arrays, y_train=np.eye(10)[tiny_arrays["y_train"]])
    assert np.array_equal(fit(arrays, (784,)).y_train, tiny_arrays["y_train"])


@pytest.mark.parametrize(("change", "shape", "classes", "what"), [
    ({}, (30, 30), 10, "data samples have shape (28, 28) but the model expects (30, 30)"),
    ({}, (784,), 5, "y_train has labels 0..9 but the model has 5 output units"),
    ({"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, int)}, (784,), 10,
     "the test split is empty"),
    ({"y_train": np.zeros(3, int)}, (784,), 10, "x_train has 640 samples but y_train has 3"),
    ({"x_train": np.full((640, 28, 28), np.nan, np.float32)}, (784,), 10,
     "the samples contain NaN or Inf values"),
    ({"y_train": np.full(640, 0.5)}, (784,), 10, "y_train must hold one class index per sample"),
])
def test_mismatches_fail_with_both_sides(tiny_arrays, change, shape, classes, what):
    with pytest.raises(DataError) as info:
        fit(dict(tiny_arrays, **change), shape, classes)
    assert info.value.what.startswith(what)


def test_npz_with_x_and_y_is_split_by_the_seed(tmp_path, tiny_arrays):
    np.savez(tmp_path / "xy.npz", x=tiny_arrays["x_train"], y=tiny_arrays["y_train"])
    spec = DataSpec(source="xy.npz", test_split=0.25)
    one, two = load(spec, tmp_path, (28, 28), 0), load(spec, tmp_path, (28, 28), 0)
    assert len(one.arrays["x_train"]) == 480 and len(one.arrays["x_test"]) == 160
    assert np.array_equal(one.arrays["x_test"], two.arrays["x_test"])
    other = load(spec, tmp_path, (28, 28), 1)
    assert not np.array_equal(one.arrays["y_test"], other.arrays["y_test"])
    parts = split(np.arange(10), np.arange(10), 0.3, 0)
    assert sorted(np.concatenate([parts["x_train"], parts["x_test"]])) == list(range(10))


def test_bad_npz_files(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros(3))
    with pytest.raises(DataError) as info:
        load(DataSpec(source="x.npz"), tmp_path, (28, 28))
    assert info.value.what == "missing arrays: it has x"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError) as info:
        load(DataSpec(source="bad.npz"), tmp_path, (28, 28))
    assert info.value.what.startswith("cannot read the data file")


def write_image_folder(root):
    """Two classes (cat, dog) of five 10x12 RGB images; dogs are red."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("cat", "dog")):
        (root / "images" / name).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)
            pixels[..., 0] = 200 * label
            Image.fromarray(pixels).save(root / "images" / name / f"{i}.png")


def test_image_folder_one_sub_folder_per_class(tmp_path):
    import tensorflow as tf
    from PIL import Image

    write_image_folder(tmp_path)
    raw = load(DataSpec(source="images", test_split=0.2), tmp_path, (8, 8, 3))
    assert raw.notes == ("streamed 10 images of 2 classes (cat, dog) from the folder",)
    dataset = fit_to_model(raw, (8, 8, 3), 2)
    assert isinstance(dataset.x_train, Stream) and dataset.describe()["streamed"]
    assert dataset.x_train.shape == (8, 8, 8, 3) and len(dataset.x_test) == 2
    assert "resized 10x12 -> 8x8 (bilinear)" in dataset.preprocessing
    images = np.concatenate([dataset.x_train[:], dataset.x_test[:]])
    labels = np.concatenate([dataset.y_train, dataset.y_test])
    assert np.all((images[..., 0].mean(axis=(1, 2)) > 0.5) == (labels == 1))  # labels follow
    # the folders; the pixels are the files' own, resized bilinearly and rounded as uint8
    files = sorted((tmp_path / "images").rglob("*.png"))
    positions = np.concatenate([dataset.x_train.positions, dataset.x_test.positions])
    first = np.asarray(Image.open(files[positions[0]]), np.float32)[None]
    expected = np.clip(np.round(tf.image.resize(first, (8, 8)).numpy()), 0, 255) / 255
    np.testing.assert_allclose(images[:1], expected, atol=1e-6)
    np.testing.assert_array_equal(dataset.x_train[[1, 0]], dataset.x_train[:2][::-1])
    assert dataset.x_train[3].shape == (8, 8, 3)
    with pytest.raises(DataError) as info:
        fit_to_model(raw, (8, 8, 3), 1)
    assert "but the model has 1 output units" in info.value.what


def arrays_tuple():
    rng = np.random.default_rng(0)
    return (rng.random((20, 4, 4), np.float32), rng.integers(0, 3, 20),
            rng.random((6, 4, 4), np.float32), rng.integers(0, 3, 6))


def load_data_pairs():
    x, y, xt, yt = arrays_tuple()
    return (x, y), (xt, yt)


def xy_dict():
    x, y, _, _ = arrays_tuple()
    return {"x": x, "y": y}


def batched_dataset():
    from prune2edge import _compat

    x, y, _, _ = arrays_tuple()
    return _compat.tf().data.Dataset.from_tensor_slices((x, y)).batch(8)


def broken():
    raise ValueError("no such bucket")


@pytest.mark.parametrize(("function", "train", "test"), [
    ("arrays_tuple", 20, 6), ("load_data_pairs", 20, 6), ("xy_dict", 16, 4),
    ("batched_dataset", 16, 4),
])
def test_data_functions(function, train, test):
    raw = load(DataSpec(source=f"test_data:{function}"), None, (4, 4))
    assert raw.executes_user_code
    dataset = fit_to_model(raw, (16,), 3)
    assert (len(dataset.x_train), len(dataset.x_test)) == (train, test)
    assert dataset.describe()["executes_user_code"] is True


def test_data_function_from_a_file(tmp_path):
    (tmp_path / "my_data.py").write_text(
        "import numpy as np\n"
        "def get():\n"
        "    return np.zeros((10, 3), np.float32), np.arange(10) % 2\n")
    raw = load(DataSpec(source="my_data.py:get"), tmp_path, (3,))
    assert len(raw.arrays["x_train"]) == 8


@pytest.mark.parametrize(("source", "what"), [
    ("test_data:broken", "test_data:broken raised ValueError: no such bucket"),
    ("test_data:DataSpec", "the data function returned a DataSpec"),
    ("missing.py:get", "Python file not found"),
])
def test_data_function_errors(tmp_path, source, what):
    with pytest.raises(DataError) as info:
        load(DataSpec(source=source), tmp_path, (3,))
    assert info.value.what == what


def dense_model(shape, classes):
    from prune2edge import _compat

    keras = _compat.keras()
    return keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                             keras.layers.Dense(classes)])


@pytest.mark.slow
@pytest.mark.parametrize(("source", "shape", "classes"), [
    ("images", (8, 8, 3), 2), ("test_data:batched_dataset", (16,), 3), ("xy.npz", (784,), 10),
])
def test_each_data_source_builds_a_validated_tflite(tmp_path, tiny_arrays, source, shape,
                                                    classes):
    from prune2edge import Convert, Pipeline, Validate

    write_image_folder(tmp_path)
    np.savez(tmp_path / "xy.npz", x=tiny_arrays["x_train"], y=tiny_arrays["y_train"])
    pipeline = Pipeline([Convert(), Validate(runs=2, warmup=0, memory=False)])
    report = pipeline.run(dense_model(shape, classes), DataSpec(source=source),
                          out=tmp_path / "out", base_dir=tmp_path)
    assert report.accuracy["test_samples"] == report.data["test_samples"] > 0
    assert report.data["sample_shape"] == list(shape)
    assert report.agreement["top1"] == 1.0
