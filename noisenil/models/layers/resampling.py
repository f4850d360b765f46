"""Bilinear 2x up-sampling that works on inputs of any size (keras.ops only).

``keras.layers.UpSampling2D(interpolation="bilinear")`` computes its output size from the input's
shape and hands it to ``ops.image.resize``, which on TensorFlow fails inside a traced function
once a dimension is unknown (``Using a symbolic tf.Tensor as a Python bool``). Keras'
``predict_on_batch`` relaxes the traced shapes to unknown after the second chunk width it sees,
so a ResNet U-Net run on spectrograms of several lengths stopped at its first up-sampling.
:class:`BilinearUpsample2x` computes the same values (half-pixel centres, edges clamped, as
``tf.image.resize`` and ``jax.image.resize``) by repetition, edge padding and a three-tap
filter, which need no static size.
"""

from __future__ import annotations

import keras
from keras import ops


def _upsample_axis(x, axis: int):
    """Double ``x`` along ``axis`` (1 or 2 of ``(batch, h, w, c)``) by linear interpolation.

    Output sample ``2i`` is ``0.75 x[i] + 0.25 x[i-1]`` and ``2i+1`` is ``0.75 x[i] +
    0.25 x[i+1]``, the neighbours clamped at the edges: the half-pixel bilinear rule. Computed
    as nearest-neighbour repetition, edge padding by one sample and the filter
    ``[0.25, 0.5, 0.25]``, with static slices only (so TFLite converts it too).
    """
    u = ops.repeat(x, 2, axis=axis)
    first, last = _slice(u, axis, 0, 1), _slice(u, axis, -1, None)
    u = ops.concatenate([first, u, last], axis=axis)
    return (0.25 * _slice(u, axis, 0, -2) + 0.5 * _slice(u, axis, 1, -1)
            + 0.25 * _slice(u, axis, 2, None))


def _slice(x, axis: int, start, stop):
    return x[:, start:stop] if axis == 1 else x[:, :, start:stop]


@keras.saving.register_keras_serializable(package="noisenil")
class BilinearUpsample2x(keras.layers.Layer):
    """``(batch, h, w, c) -> (batch, 2h, 2w, c)``, the values of
    ``UpSampling2D(2, interpolation="bilinear")``, for inputs of any (also unknown) size."""

    def call(self, inputs):
        return _upsample_axis(_upsample_axis(inputs, 1), 2)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)
