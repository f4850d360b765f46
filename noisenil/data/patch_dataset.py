"""Batches of feature patches for ``Model.fit``: :class:`PatchDataset` and :func:`to_tf_dataset`.

A segment is exactly ``(width - 1) * hop + n_fft`` samples, analysed with ``center=False``, so it
gives one ``height x width`` patch (a random frequency tile when ``height`` < bins) whose frames
are those the whole-file STFT has at that position. Batches come from a
:class:`keras.utils.PyDataset` (every backend; thread or process workers) or, on TensorFlow,
from :func:`to_tf_dataset`, the ``tf.data`` boundary. Every batch's random generator is derived
from ``(seed, epoch, batch index)``, so results do not depend on worker count or scheduling;
validation batches use a fixed generator per index and are identical every epoch.

Shape:
    Each batch is ``(noisy, clean)``, both float32 ``(batch, height, width, channels)``.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from noisenil.dsp.features import FeatureTransform


class PatchDataset(keras.utils.PyDataset):
    """Batches of ``(noisy, clean)`` feature patches, ``(batch, height, width, channels)`` each.

    Args:
        source: A :class:`MixingSource` or :class:`PairedSource`.
        transform: The feature transform (STFT + representation).
        height: Patch height in bins.
        width: Patch width in frames.
        batch_size: Patches per batch.
        n_patches: Patches per epoch (the last batch may be smaller).
        seed: Base seed.
        fixed: Draw the same batches every epoch (validation).
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for PyDataset.
    """

    def __init__(self, source, transform: FeatureTransform, *, height: int, width: int,
                 batch_size: int, n_patches: int, seed: int = 0, fixed: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.source, self.transform = source, transform
        self.height, self.width = height, width
        self.batch_size, self.n_patches = batch_size, n_patches
        self.seed, self.fixed = seed, fixed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(self.n_patches / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch(index, epoch=0 if self.fixed else self.epoch)

    def on_epoch_end(self):
        self.epoch += 1

    @property
    def element_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one patch."""
        return (self.height, self.width, self.transform.channels)

    def batch(self, index: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index`` of ``epoch``: ``(noisy, clean)`` float32 feature patches."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range [0, {len(self)})")
        size = min(self.batch_size, self.n_patches - index * self.batch_size)
        rng = np.random.default_rng([self.seed, int(self.fixed), epoch, index])
        noisy_w, clean_w = zip(*(self.source.draw(rng) for _ in range(size)))
        x, _ = self.transform.analyze(np.stack(noisy_w), center=False)
        y, _ = self.transform.analyze(np.stack(clean_w), center=False)
        n_bins = x.shape[1]
        if self.height < n_bins:  # one random frequency tile per batch
            f0 = int(rng.integers(0, n_bins - self.height + 1))
            x, y = x[:, f0:f0 + self.height], y[:, f0:f0 + self.height]
        return x, y


def to_tf_dataset(ds: PatchDataset, *, repeat: bool = True, parallel: int | None = None):
    """The same batches as a ``tf.data.Dataset`` (TensorFlow backend only).

    Batch ``i`` of the stream is batch ``i % len(ds)`` of epoch ``i // len(ds)`` (validation
    datasets repeat the same batches), generated in parallel by ``tf.numpy_function``.

    Args:
        ds: The dataset.
        repeat: Run forever (fit with ``steps_per_epoch``) rather than one epoch.
        parallel: Parallel calls; ``None`` lets tf.data tune it.
    """
    import tensorflow as tf

    n = len(ds)

    def make(i):
        i = int(i)
        return ds.batch(i % n, epoch=0 if ds.fixed else i // n)

    shape = (None,) + ds.element_shape
    indices = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(n)

    def fetch(i):
        x, y = tf.numpy_function(make, [i], (tf.float32, tf.float32), stateful=False)
        x.set_shape(shape)
        y.set_shape(shape)
        return x, y

    return indices.map(fetch, num_parallel_calls=parallel or tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)
