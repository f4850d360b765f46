"""``dncnn``: DnCNN (Zhang et al. 2017) as in seed 002, with residual learning.

Conv + ReLU and ``depth - 2`` blocks of conv + batch norm + ReLU (+ dropout) form the body; the
shared head (:mod:`noisenil.models.heads`) forms the output with a ``kernel_size`` convolution:
a bounded mask by default, ``head="residual"`` for the paper's residual learning (the network
predicts the noise, the output is ``input - noise``), ``"mapping"`` for a conv to the clean
features. DnCNN-17 with 64 filters has 0.56 M parameters; it never down-samples, so it
runs on any size as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
from keras import layers

from noisenil.models.heads import check_head, output_head


def build_dncnn(*, channels: int = 1, depth: int = 17, filters: int = 64, kernel_size: int = 3,
                dropout: float = 0.0, l2: float = 0.0, head: str = "mask",
                min_gain_db: float = -30.0,
                feature_scale: Mapping[str, Any] | None = None) -> keras.Model:
    """DnCNN.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        depth: Convolution layers in total (>= 3), the head's included.
        filters: Filters of the hidden layers.
        kernel_size: Square kernel size (the head's too).
        dropout: Dropout rate after each hidden block (seed 002's regularisation).
        l2: L2 weight decay on the kernels.
        head: ``"mask"``, ``"residual"`` (the paper) or ``"mapping"``.
        min_gain_db: The mask head's floor, in dB.
        feature_scale: The features' scale, for the mask head.

    Returns:
        Uncompiled model, ``(batch, freq, time, channels)`` -> same shape.
    """
    check_head(head, min_gain_db)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    conv = dict(padding="same", kernel_initializer="he_normal", kernel_regularizer=reg)
    inputs = keras.Input((None, None, channels), name="noisy")
    x = layers.ReLU()(layers.Conv2D(filters, kernel_size, **conv)(inputs))
    for _ in range(depth - 2):
        x = layers.Conv2D(filters, kernel_size, use_bias=False, **conv)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        if dropout > 0:
            x = layers.Dropout(dropout)(x)
    out = output_head(x, inputs, head=head, channels=channels, min_gain_db=min_gain_db,
                      feature_scale=feature_scale, mapping_kernel=kernel_size)
    return keras.Model(inputs, out, name="dncnn")
