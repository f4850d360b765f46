"""Frequency-positional embedding channels (seed 001, after Isik et al.).

Convolutions are translation invariant, so a fully convolutional network cannot tell a bin at
100 Hz from one at 7 kHz. Seed 001 appends ``cos(2**k * pi * f / (F - 1))`` for ``k = 0..9`` as
10 extra input channels, constant over time; the first layers then know where they are on the
frequency axis.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="noisenil")
class FrequencyEmbedding(keras.layers.Layer):
    """Appends ``count`` cosine frequency-position channels to a spectrogram.

    Channel ``k`` holds ``cos(2**k * pi * n)`` with ``n = f / (F - 1)`` in ``[0, 1]`` for
    frequency row ``f`` of ``F``; it is computed from the input's height, so it works for any
    number of bins, and it is the same for every time frame and batch item.

    Args:
        count: Number of embedding channels (seed 001: 10).

    Shape:
        Input ``(batch, freq, time, channels)``; output ``(batch, freq, time, channels + count)``.
    """

    def __init__(self, count: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.count = int(count)

    def call(self, x):
        shape = ops.shape(x)
        n_freq = shape[1]
        n = ops.cast(ops.arange(n_freq), self.compute_dtype)
        n = n / ops.maximum(ops.cast(n_freq, self.compute_dtype) - 1.0, 1.0)
        freqs = ops.cast(ops.power(2.0, ops.arange(self.count, dtype="float32")) * math.pi,
                         self.compute_dtype)
        table = ops.cos(n[:, None] * freqs[None, :])  # (freq, count)
        table = ops.broadcast_to(table[None, :, None, :],
                                 (shape[0], n_freq, shape[2], self.count))
        return ops.concatenate([x, ops.cast(table, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[3] is None else input_shape[3] + self.count
        return (*input_shape[:3], channels)

    def get_config(self):
        return {**super().get_config(), "count": self.count}
