"""``unet``: the seed-004 Kaggle baseline U-Net (128x128 spectrogram denoiser).

Four levels of two 3x3 convolutions with LeakyReLU and 2x2 max pooling, filters doubling from 16;
dropout before the last pooling and after the 256-filter bottleneck; a decoder of 2x up-sampling,
2x2 convolution, skip concatenation and two 3x3 convolutions; a 3x3 convolution with 2 filters and
a 1x1 convolution to the output channels. 1.94 M parameters at the defaults.
"""

from __future__ import annotations

import keras
from keras import layers

from noisenil.errors import ConfigError
from noisenil.models.layers import CropToReference, PadToMultiple


def _conv(x, filters: int, kernel: int = 3, slope: float = 0.2):
    x = layers.Conv2D(filters, kernel, padding="same", kernel_initializer="he_normal")(x)
    return layers.LeakyReLU(negative_slope=slope)(x)


def build_unet(*, channels: int = 1, base_filters: int = 16, depth: int = 4,
               dropout: float = 0.5, negative_slope: float = 0.2,
               residual: bool = False, mask: bool = False,
               head_filters: int = 2) -> keras.Model:
    """The seed-004 U-Net, fully convolutional.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        base_filters: Filters of the first level; doubled at every level.
        depth: Number of poolings (the input is padded to a multiple of ``2**depth``).
        dropout: Dropout rate before the last pooling and after the bottleneck.
        negative_slope: LeakyReLU slope.
        residual: Predict what to take away from the input (``clean = noisy - net(noisy)``, as
            DnCNN does) instead of the clean features themselves. The network then starts near
            the identity and only has to learn the noise, which keeps speech bins intact: the
            first default model used it.
        mask: Predict a gain in (0, 1) per bin and apply it to the input
            (``clean = noisy * sigmoid(net(noisy))``), as Wiener-style estimators do: the output
            never exceeds the input, and errors scale with the signal, so nearly clean input
            passes nearly untouched. Exclusive with ``residual``.
        head_filters: Filters of the 3x3 convolution before the output (seed 004: 2, a narrow
            bottleneck; wider heads let a mask or residual be resolved more finely).

    Returns:
        Uncompiled model, ``(batch, freq, time, channels)`` -> same shape.

    Raises:
        ConfigError: ``residual`` and ``mask`` both set, or ``head_filters`` < 1.
    """
    if residual and mask:
        raise ConfigError("unet: residual=True and mask=True exclude each other (a network "
                          "either subtracts the noise or gains the input); choose one",
                          key="model.hparams.mask")
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
    head = "noise" if residual else "gain" if mask else "clean"
    x = layers.Conv2D(channels, 1, activation="sigmoid" if mask else None, name=head)(x)
    outputs = CropToReference()([x, inputs])
    if residual:
        outputs = layers.Subtract(name="clean")([inputs, outputs])
    elif mask:
        outputs = layers.Multiply(name="clean")([inputs, outputs])
    return keras.Model(inputs, outputs, name="unet")
