"""``dncnn``: DnCNN (Zhang et al. 2017) as in seed 002, with residual learning.

Conv + ReLU, ``depth - 2`` blocks of conv + batch norm + ReLU (+ dropout), and a conv to the
output channels. With ``residual`` (default) the network predicts the noise and the output is
``input - noise``. DnCNN-17 with 64 filters has 0.56 M parameters; it never down-samples, so it
runs on any size as is.
"""

from __future__ import annotations

import keras
from keras import layers



def build_dncnn(*, channels: int = 1, depth: int = 17, filters: int = 64, kernel_size: int = 3,
                dropout: float = 0.0, l2: float = 0.0, residual: bool = True) -> keras.Model:
    """DnCNN.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        depth: Convolution layers in total (>= 3).
        filters: Filters of the hidden layers.
        kernel_size: Square kernel size.
        dropout: Dropout rate after each hidden block (seed 002's regularisation).
        l2: L2 weight decay on the kernels.
        residual: Predict the noise and subtract it from the input.

    Returns:
        Uncompiled model, ``(batch, freq, time, channels)`` -> same shape.
    """
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    conv = dict(padding="same", kernel_initializer="he_normal", kernel_regularizer=reg)
    inputs = keras.Input((None, None, channels), name="noisy")
    x = layers.ReLU()(layers.Conv2D(filters, kernel_size, **conv)(inputs))
    for _ in range(depth - 2):
        x = layers.Conv2D(filters, kernel_size, use_bias=False, **conv)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        if dropout > 0:
            x = layers.Dropout(dropout)(x)
    out = layers.Conv2D(channels, kernel_size, **conv, name="noise" if residual else "clean")(x)
    if residual:
        out = layers.Subtract(name="clean")([inputs, out])
    return keras.Model(inputs, out, name="dncnn")
