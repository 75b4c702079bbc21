"""Image folders and TFRecord files are streamed: read as needed, shuffled with the seed, and
built end to end with the same figures an in-memory copy of the same images gives."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prune2edge.cli import app
from prune2edge.data import DataSpec, fit_to_model, load
from prune2edge.data.stream import Stream, training
from prune2edge.errors import DataError

STAGES = """
[[stages]]
kind = "train"
epochs = 2

[[stages]]
kind = "prune"
schedule = { kind = "constant_sparsity", target_sparsity = 0.5, begin_step = 0, frequency = 5 }

[[stages]]
kind = "finetune"
epochs = 1

[[stages]]
kind = "strip"

[[stages]]
kind = "quantize"
mode = "int8"
samples = 50

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 5
warmup = 1
memory = false
"""


def write_digits(root, arrays, count=400):
    """The first `count` tiny MNIST training digits as PNGs, one folder per class."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(arrays["x_train"][:count],
                                           arrays["y_train"][:count], strict=True)):
        folder = root / f"digit{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:04d}.png")
    return root


def write_records(folder, *paths):
    """The folder's PNGs as TFRecord files of tf.train.Examples (image bytes, label), dealt
    out to `paths` in consecutive runs."""
    import tensorflow as tf

    examples = []
    for label, directory in enumerate(sorted(d for d in folder.iterdir() if d.is_dir())):
        for file in sorted(directory.glob("*.png")):
            feature = {"image": tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[file.read_bytes()])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
            examples.append(tf.train.Example(features=tf.train.Features(feature=feature)))
    for path, part in zip(paths, np.array_split(np.arange(len(examples)), len(paths)),
                          strict=True):
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i in part:
                writer.write(examples[i].SerializeToString())


@pytest.fixture(scope="module")
def digits(tmp_path_factory, tiny_arrays):
    root = tmp_path_factory.mktemp("stream")
    folder = write_digits(root / "digits", tiny_arrays)
    write_records(folder, root / "digits.tfrecord")
    write_records(folder, *(root / f"shard-{i}.tfrecord" for i in range(2)))
    return root


def test_records_stream_the_same_samples_as_the_folder(digits):
    spec = DataSpec(source="digits", test_split=0.25)
    folder = fit_to_model(load(spec, digits, (28, 28, 1)), (28, 28, 1), 10, spec)
    spec = DataSpec(source="digits.tfrecord", test_split=0.25)
    records = fit_to_model(load(spec, digits, (28, 28, 1)), (28, 28, 1), 10, spec)
    assert isinstance(records.x_test, Stream) and records.preprocessing[0].startswith(
        "streamed 400 records from 1 TFRecord file(s)")
    np.testing.assert_array_equal(folder.y_test, records.y_test)
    np.testing.assert_array_equal(folder.x_test[:], records.x_test[:])
    picked = records.representative(20, seed=3)
    np.testing.assert_array_equal(picked, folder.representative(20, seed=3))
    assert picked.shape == (20, 28, 28, 1) and picked.max() <= 1.0


def test_a_worker_of_a_cluster_gets_its_records_with_their_own_labels(digits):
    """MultiWorkerMirroredStrategy shards each worker's input; a reader's file list must not
    be split (records are numbered across all files), so every worker pairs a record with
    its own row."""
    from tensorflow.python.data.experimental.ops.distribute import _AutoShardDataset

    spec = DataSpec(source="shard-*.tfrecord", test_split=0.25)
    stream = fit_to_model(load(spec, digits, (28, 28, 1)), (28, 28, 1), 10, spec).x_train
    images, seen = stream[:], []
    for worker in range(2):
        shard = _AutoShardDataset(stream.dataset(32, np.arange(len(stream))), 2, worker)
        x, rows = (np.concatenate(part) for part in zip(*shard.as_numpy_iterator(),
                                                         strict=True))
        np.testing.assert_array_equal(x, images[rows])
        seen.append(rows)
    assert sorted(np.concatenate(seen)) == list(range(len(stream)))  # each once, in all


@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "array"])
def test_an_epochs_order_depends_on_its_seed_alone(digits, streamed):
    """Training reads one epoch per seed, so a build resumed at epoch k (which starts from
    that epoch's seed) reads what an uninterrupted one does, streams and arrays alike."""
    spec = DataSpec(source="digits")
    stream = fit_to_model(load(spec, digits, (784,)), (784,), 10, spec).x_train
    x = stream if streamed else stream[:]
    labels = np.arange(len(stream))

    def order(seeds):
        return np.concatenate([y for _, y in training(x, labels, 64, seeds).as_numpy_iterator()])

    both = order([5, 6])
    assert sorted(both[:len(stream)]) == list(labels)  # each epoch sees every sample once
    assert not np.array_equal(both[:len(stream)], both[len(stream):])  # reshuffled
    np.testing.assert_array_equal(order([6]), both[len(stream):])  # resumable


@pytest.mark.slow
def test_a_streamed_source_builds_end_to_end(digits, tmp_path):
    """The folder and the TFRecord file hold the same images; both builds learn from them,
    and as the samples, their order and their shuffle are the same, so are the models."""
    models = []
    for source in ("digits", "digits.tfrecord"):
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(f'version = 1\nname = "s"\nseed = 0\n[model]\nsource = '
                          f'"tiny_models:cnn"\n[data]\nsource = "{digits / source}"\n' + STAGES)
        out = tmp_path / source
        result = CliRunner().invoke(app, ["build", str(recipe), "-o", str(out), "-q"])
        assert result.exit_code == 0, result.output
        report = json.loads((out / "report.json").read_text())
        assert report["data"]["streamed"] and report["data"]["train_samples"] == 320
        assert report["accuracy"]["tflite"] > 0.2  # 10 classes, 2 epochs on 288 samples
        assert report["agreement"]["top1"] > 0.95
        models.append((out / "model.tflite").read_bytes())
    assert models[0] == models[1]


def test_record_errors_are_one_line(digits, tmp_path):
    with pytest.raises(DataError) as info:
        load(DataSpec(source="none-*.tfrecord"), digits, (28, 28, 1))
    assert info.value.what == "no TFRecord files match"
    spec = DataSpec(source="digits.tfrecord", label_key="class")
    with pytest.raises(DataError) as info:
        load(spec, digits, (28, 28, 1))
    assert info.value.what.startswith("cannot read the TFRecords")
    assert "label_key" in info.value.fix
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        load(DataSpec(source="empty"), tmp_path, (28, 28, 1))
    assert info.value.what == "the image folder has no images"
