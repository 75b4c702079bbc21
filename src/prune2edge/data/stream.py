"""Samples read from disk as they are needed, never all at once: the files of an image folder
or the records of TFRecord files, decoded, resized and scaled by a `tf.data` pipeline.

A `Stream` stands where a split's array would: it has a length and a shape, indexing it
decodes just those samples, and `dataset()` gives Keras a batched, prefetched pipeline
(shuffled with a seed per epoch when training). Memory therefore stays flat as a dataset
grows; only labels (one integer per sample) are held.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from .. import _compat
from ..errors import DataError, first_line

DECODE_BATCH = 256  # samples decoded per batch when a split is read through


RECORD_SHUFFLE = 4096  # records shuffled within a window of this many (files: all of them)


class Reader(Protocol):
    """Where encoded images come from: `read(positions, extra, seed)` yields (encoded image,
    extra row) for the samples at `positions` (ascending), in that order, or shuffled with
    `seed` if it is not None."""

    def read(self, positions: np.ndarray, extra: np.ndarray, seed: Any = None) -> Any: ...

    def encoded(self, positions: np.ndarray) -> Iterator[tuple[str, bytes]]:
        """(where it is stored, encoded image) of the samples at `positions`, in order, read
        one by one (to check them)."""
        ...

    def files(self) -> list[str]:
        """The files the samples are read from."""
        ...


@dataclass(frozen=True, eq=False)
class ImageFiles:
    """An image folder's files, one per sample."""

    paths: np.ndarray  # of str

    def files(self) -> list[str]:
        return [str(path) for path in self.paths]

    def encoded(self, positions: np.ndarray) -> Iterator[tuple[str, bytes]]:
        for path in self.paths[positions]:
            try:
                with open(path, "rb") as file:
                    yield str(path), file.read()
            except OSError as exc:
                raise DataError(f"cannot read the image ({exc.strerror})", str(path),
                                "make it readable, or remove it") from exc

    def read(self, positions: np.ndarray, extra: np.ndarray, seed: Any = None) -> Any:
        tf = _compat.tf()
        files = tf.data.Dataset.from_tensor_slices((self.paths[positions], extra))
        if seed is not None:  # names are small: shuffle all of them, then read
            files = files.shuffle(len(positions), seed=seed, reshuffle_each_iteration=False)
        return files.map(lambda path, row: (tf.io.read_file(path), row),
                         num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@dataclass(frozen=True, eq=False)
class Records:
    """TFRecord files of `tf.train.Example`s holding an encoded image and an integer label."""

    names: tuple[str, ...]  # the files, in the order their records are numbered
    count: int
    image_key: str = "image"

    def files(self) -> list[str]:
        return list(self.names)

    def encoded(self, positions: np.ndarray) -> Iterator[tuple[str, bytes]]:
        tf = _compat.tf()
        feature = {self.image_key: tf.io.FixedLenFeature([], tf.string)}
        wanted, number = set(positions.tolist()), 0  # records are numbered across files
        for name in self.names:
            for index, record in enumerate(records_of(name)):
                if number in wanted:
                    image = tf.io.parse_single_example(record, feature)[self.image_key]
                    yield f"{name}, record {index}", image.numpy()
                number += 1

    def read(self, positions: np.ndarray, extra: np.ndarray, seed: Any = None) -> Any:
        tf = _compat.tf()
        rank = np.full(self.count, -1, np.int64)  # a record's row in `extra`, or -1: skipped
        rank[positions] = np.arange(len(positions))
        rank_t, extra_t = tf.constant(rank), tf.constant(extra)
        feature = {self.image_key: tf.io.FixedLenFeature([], tf.string)}
        records = tf.data.TFRecordDataset(list(self.names)).enumerate()
        kept = records.filter(lambda i, _: tf.gather(rank_t, i) >= 0)
        parsed = kept.map(lambda i, record: (
            tf.io.parse_single_example(record, feature)[self.image_key],
            tf.gather(extra_t, tf.gather(rank_t, i))))
        return parsed if seed is None else parsed.shuffle(
            RECORD_SHUFFLE, seed=seed, reshuffle_each_iteration=False)


@dataclass(frozen=True, eq=False)
class Stream:
    """One split's samples, read through `reader`: decoded to `geometry` (height, width,
    channels), resized bilinearly, rounded to uint8 as a file would hold them, reshaped to
    `sample_shape` and multiplied by `scale` (if set)."""

    reader: Reader
    positions: np.ndarray  # the reader's samples in this split, ascending
    geometry: tuple[int, int, int]
    sample_shape: tuple[int, ...]
    scale: float | None

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.sample_shape)

    def digest(self) -> str:
        """A hash of what this split reads: its files (names, sizes, modification times), the
        samples taken from them and how they are decoded."""
        text = json.dumps([[(name, *_stat(name)) for name in self.reader.files()],
                           self.positions.tolist(), self.geometry, self.sample_shape,
                           self.scale])
        return hashlib.sha256(text.encode()).hexdigest()

    def damaged(self) -> tuple[str, str] | None:
        """The first sample whose image cannot be decoded: (where it is stored, why)."""
        tf = _compat.tf()
        for where, content in self.reader.encoded(self.positions):
            try:
                tf.io.decode_image(content, expand_animations=False)
            except tf.errors.OpError as exc:
                return where, first_line(exc.message)
        return None

    def subset(self, index: Any) -> Stream:
        """The samples at `index` (into this split), still unread, in ascending order."""
        return replace(self, positions=np.sort(self.positions[index]))

    def __getitem__(self, index: Any) -> np.ndarray:
        """The samples at `index` (a slice or integer array into this split), decoded."""
        wanted = np.atleast_1d(np.arange(len(self))[index])
        unique = np.unique(wanted)
        chunks = list(self.subset(unique).batches(DECODE_BATCH))
        decoded = (np.concatenate(chunks) if chunks
                   else np.zeros((0, *self.sample_shape), np.float32))
        picked = decoded[np.searchsorted(unique, wanted)]
        return picked[0] if np.ndim(index) == 0 and not isinstance(index, slice) else picked

    def batches(self, size: int) -> Iterator[np.ndarray]:
        for x, _ in self.dataset(size).as_numpy_iterator():
            yield x

    def dataset(self, batch_size: int, targets: np.ndarray | None = None,
                shuffle_seed: Any = None) -> Any:
        """A batched, prefetched `tf.data.Dataset` of (samples, targets) in order, or
        shuffled with `shuffle_seed`."""
        tf = _compat.tf()
        extra = (np.zeros((len(self), 1), np.float32) if targets is None
                 else np.asarray(targets))
        samples = self.reader.read(self.positions, extra, shuffle_seed)
        height, width, channels = self.geometry

        def decode(encoded: Any, row: Any) -> tuple[Any, Any]:
            image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
            image = tf.image.resize(image, (height, width), method="bilinear")
            image = tf.reshape(tf.clip_by_value(tf.round(image), 0.0, 255.0), self.sample_shape)
            return (image if self.scale is None else image * self.scale), row

        decoded = samples.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return decoded.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(_by_data())


def _stat(name: str) -> tuple[int, int]:
    """A file's size and modification time (ns): enough to see that it changed."""
    stat = os.stat(name)
    return stat.st_size, stat.st_mtime_ns


def records_of(name: str) -> Iterator[Any]:
    """The records of one TFRecord file, read eagerly; a truncated or corrupt file is a
    DataError naming it."""
    tf = _compat.tf()
    read = 0
    try:
        for record in tf.data.TFRecordDataset(name):
            yield record
            read += 1
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as exc:
        raise DataError(f"the TFRecord file is damaged after {read} whole records "
                        f"({first_line(exc.message)})", name,
                        "write the file again, or leave it out of the pattern") from exc


def subset(x: np.ndarray | Stream, index: np.ndarray) -> np.ndarray | Stream:
    """The samples at `index`: an array's rows, or a stream's (still unread)."""
    return x.subset(index) if isinstance(x, Stream) else x[index]


def batches(x: np.ndarray | Stream, size: int) -> Iterator[np.ndarray]:
    """`x` in batches of `size`, read as it goes for a stream."""
    if isinstance(x, Stream):
        with reading(x):
            yield from x.batches(size)
        return
    for start in range(0, len(x), size):
        yield x[start:start + size]


def training(x: np.ndarray | Stream, targets: np.ndarray, batch_size: int,
             seeds: Sequence[int]) -> Any:
    """Keras' training input: one epoch per seed, back to back, each in the order its seed
    gives (a stream is read as it goes; an array's rows are gathered batch by batch)."""
    tf = _compat.tf()
    concatenated = functools.partial(functools.reduce, lambda first, then: first.concatenate(then))
    if isinstance(x, Stream):
        return concatenated([x.dataset(batch_size, targets, shuffle_seed=seed) for seed in seeds])
    samples, rows = tf.constant(x), tf.constant(targets)
    epochs = [tf.data.Dataset.from_tensor_slices(np.random.default_rng(seed).permutation(len(x)))
              .batch(batch_size) for seed in seeds]
    gathered = concatenated(epochs).map(
        lambda index: (tf.gather(samples, index), tf.gather(rows, index)))
    return gathered.prefetch(tf.data.AUTOTUNE).with_options(_by_data())


def _by_data() -> Any:
    """A cluster's workers share batches, never files: readers number samples across all
    files, so a worker given some of the files would pair records with others' rows."""
    tf = _compat.tf()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


@contextlib.contextmanager
def reading(x: np.ndarray | Stream) -> Iterator[None]:
    """Reading `x` in the block: an image a stream cannot decode becomes a DataError naming
    its file (found by decoding the split's images one by one)."""
    tf = _compat.tf()
    try:
        yield
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as exc:
        found = x.damaged() if isinstance(x, Stream) else None
        if found is None:
            raise
        where, why = found
        raise DataError(f"cannot decode the image ({why})", where,
                        "replace the file with a readable image, or remove it") from exc


def keras_input(x: np.ndarray | Stream, batch_size: int) -> Any:
    """What Keras' `predict` takes for `x`: the array, or the stream's pipeline."""
    return x.dataset(batch_size).map(lambda samples, _: samples) if isinstance(
        x, Stream) else x
