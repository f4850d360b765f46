"""Bilinear 2x up-sampling that works on inputs of any size (keras.ops only).

``keras.layers.UpSampling2D(interpolation="bilinear")`` computes its output size from the input's
shape and hands it to ``ops.image.resize``, which on TensorFlow fails inside a traced function
once a dimension is unknown (``Using a symbolic tf.Tensor as a Python bool``). Keras'
``predict_on_batch`` relaxes the traced shapes to unknown after the second chunk width it sees,
so a ResNet U-Net run on spectrograms of several lengths stopped at its first up-sampling.
:class:`BilinearUpsample2x` computes the same values (half-pixel centres, edges clamped, as
``tf.image.resize`` and ``jax.image.resize``) with shifts, weighted sums and an interleaving
reshape, which need no static size.
"""

from __future__ import annotations

import keras
from keras import ops


def _upsample_axis(x, axis: int):
    """Double ``x`` along ``axis`` (1 or 2 of ``(batch, h, w, c)``) by linear interpolation.

    Output sample ``2i`` is ``0.75 x[i] + 0.25 x[i-1]`` and ``2i+1`` is ``0.75 x[i] +
    0.25 x[i+1]``, the neighbours clamped at the edges: the half-pixel bilinear rule.
    """
    n = ops.shape(x)[axis]
    prev = ops.concatenate([_slice(x, axis, 0, 1), _slice(x, axis, 0, n - 1)], axis=axis)
    nxt = ops.concatenate([_slice(x, axis, 1, n), _slice(x, axis, n - 1, n)], axis=axis)
    even = 0.75 * x + 0.25 * prev
    odd = 0.75 * x + 0.25 * nxt
    both = ops.stack([even, odd], axis=axis + 1)  # (..., n, 2, ...) along the axis
    shape = ops.shape(x)
    new = [shape[0], shape[1], shape[2], shape[3]]
    new[axis] = shape[axis] * 2
    return ops.reshape(both, new)


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
