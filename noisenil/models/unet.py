"""``unet``: the seed-004 Kaggle baseline U-Net (128x128 spectrogram denoiser).

Four levels of two 3x3 convolutions with LeakyReLU and 2x2 max pooling, filters doubling from 16;
dropout before the last pooling and after the 256-filter bottleneck; a decoder of 2x up-sampling,
2x2 convolution, skip concatenation and two 3x3 convolutions; a 3x3 convolution with 2 filters and
then the shared output head (:mod:`noisenil.models.heads`: a bounded mask by default; seed 004's
1x1 convolution to the output channels is ``head="mapping"``). 1.94 M parameters at the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
from keras import layers

from noisenil.errors import ConfigError
from noisenil.models.heads import check_head, output_head
from noisenil.models.layers import CropToReference, PadToMultiple


def _conv(x, filters: int, kernel: int = 3, slope: float = 0.2):
    x = layers.Conv2D(filters, kernel, padding="same", kernel_initializer="he_normal")(x)
    return layers.LeakyReLU(negative_slope=slope)(x)


def build_unet(*, channels: int = 1, base_filters: int = 16, depth: int = 4,
               dropout: float = 0.5, negative_slope: float = 0.2, head_filters: int = 2,
               head: str = "mask", min_gain_db: float = -30.0,
               feature_scale: Mapping[str, Any] | None = None) -> keras.Model:
    """The seed-004 U-Net body, fully convolutional, with a shared head.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        base_filters: Filters of the first level; doubled at every level.
        depth: Number of poolings (the input is padded to a multiple of ``2**depth``).
        dropout: Dropout rate before the last pooling and after the bottleneck.
        negative_slope: LeakyReLU slope.
        head_filters: Filters of the body's last 3x3 convolution (seed 004: 2, a narrow
            bottleneck; wider lets a mask be resolved more finely).
        head: ``"mask"``, ``"residual"`` or ``"mapping"`` (:func:`~noisenil.models.heads.output_head`).
        min_gain_db: The mask head's floor, in dB.
        feature_scale: The features' scale, for the mask head (see :mod:`noisenil.models.heads`).

    Returns:
        Uncompiled model, ``(batch, freq, time, channels)`` -> same shape.

    Raises:
        ConfigError: ``head_filters`` < 1, or a bad head.
    """
    check_head(head, min_gain_db)
    if head_filters < 1:
        raise ConfigError(f"unet: head_filters={head_filters} must be >= 1",
                          key="model.hparams.head_filters")
    inputs = keras.Input((None, None, channels), name="noisy")
    x = PadToMultiple(2 ** depth)(inputs)
    skips, filters = [], base_filters
    for level in range(depth):
        x = _conv(_conv(x, filters, slope=negative_slope), filters, slope=negative_slope)
        if level == depth - 1 and dropout > 0:
            x = layers.Dropout(dropout)(x)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
        filters *= 2
    x = _conv(_conv(x, filters, slope=negative_slope), filters, slope=negative_slope)
    if dropout > 0:
        x = layers.Dropout(dropout)(x)
    for skip in reversed(skips):
        filters //= 2
        x = _conv(layers.UpSampling2D(2)(x), filters, kernel=2, slope=negative_slope)
        x = layers.Concatenate()([skip, x])
        x = _conv(_conv(x, filters, slope=negative_slope), filters, slope=negative_slope)
    x = _conv(x, head_filters, slope=negative_slope)
    x = CropToReference()([x, inputs])
    outputs = output_head(x, inputs, head=head, channels=channels, min_gain_db=min_gain_db,
                          feature_scale=feature_scale, mapping_kernel=1)
    return keras.Model(inputs, outputs, name="unet")
