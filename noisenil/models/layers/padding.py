"""Padding to what a network's depth needs, and cropping back, so models are fully convolutional.

A U-Net with ``d`` down-samplings needs frequency and time sizes divisible by ``2**d``. Instead of
cropping spectrograms to a fixed size, the model pads its input up to the next multiple and crops
its output back to the input's size, so it runs on 128x128 patches and on full-height chunks of
any length alike.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="noisenil")
class PadToMultiple(keras.layers.Layer):
    """Zero-pads the frequency and time axes at the end up to a multiple of ``multiple``.

    Args:
        multiple: The size both axes must be divisible by (e.g. ``2**depth``).

    Shape:
        Input ``(batch, freq, time, channels)``; output ``(batch, ceil(freq/m)*m,
        ceil(time/m)*m, channels)``.
    """

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, x):
        shape = ops.shape(x)
        m = self.multiple
        pad_f = (m - shape[1] % m) % m
        pad_t = (m - shape[2] % m) % m
        padded = ops.pad(x, [[0, 0], [0, pad_f], [0, pad_t], [0, 0]])
        # A no-op reshape: on TensorFlow, padding by amounts computed from a dynamic shape
        # forgets every static dimension, the channels included, and the TFLite converter cannot
        # lower a convolution whose input channels are unknown (export with a dynamic time axis).
        return ops.reshape(padded, (shape[0], shape[1] + pad_f, shape[2] + pad_t, shape[3]))

    def compute_output_shape(self, input_shape):
        def up(n):
            return None if n is None else -(-n // self.multiple) * self.multiple

        return (input_shape[0], up(input_shape[1]), up(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="noisenil")
class CropToReference(keras.layers.Layer):
    """Crops ``x`` to the frequency and time size of ``reference`` (called on ``[x, reference]``).

    Shape:
        ``x``: ``(batch, F', T', C)`` with ``F' >= F``, ``T' >= T``; ``reference``:
        ``(batch, F, T, any)``; output ``(batch, F, T, C)``.
    """

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])
