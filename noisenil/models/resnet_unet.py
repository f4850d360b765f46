"""``resnet_unet``: a U-Net decoder on a ``keras.applications`` ResNet encoder (seed 002).

A 1x1 convolution maps the spectrogram's 1 (magnitude) or 2 (complex) channels to the 3 that
ImageNet ResNets take, initialised to copy a magnitude into all three. The encoder is the ResNet
without its top, wrapped as a sub-model named ``"encoder"`` whose outputs are a dict of named
features: the four skips at 1/2, 1/4, 1/8 and 1/16 resolution and the 1/32 bottleneck
(:data:`ENCODER_FEATURES`). :func:`unet_decoder` knows nothing of ResNets: it takes that dict and
the names, up-samples 2x five times, concatenating the matching skip and applying two 3x3
conv + batch norm + ReLU layers each time, and a 1x1 convolution gives the output at input
resolution. Inputs are padded to a multiple of 32 and the output cropped back.

Deviation from seed 002: the output is linear, not a sigmoid, because complex features are signed
and magnitude features can exceed 1 (``output_activation="sigmoid"`` restores it).

Weights: ``None`` (default), ``"imagenet"`` (read from the Keras cache, never downloaded: see
:func:`imagenet_weights_path`) or the path of a weights file for the same ResNet without top.
The encoder can be frozen for the first ``freeze_epochs`` epochs (see
:meth:`~noisenil.models.hypermodels.base.DenoiserHyperModel.fit`). ResNet101 with decoder widths
256-128-64-32-16 has 51.7 M parameters (42.7 M in the encoder).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import layers

from noisenil.errors import ConfigError
from noisenil.models.layers import CropToReference, PadToMultiple

#: keras.applications constructor, skip features (shallow to deep) and bottleneck per backbone.
ENCODER_FEATURES = {
    "resnet50": ("ResNet50", ("conv1_relu", "conv2_block3_out", "conv3_block4_out",
                              "conv4_block6_out"), "conv5_block3_out"),
    "resnet101": ("ResNet101", ("conv1_relu", "conv2_block3_out", "conv3_block4_out",
                                "conv4_block23_out"), "conv5_block3_out"),
    "resnet152": ("ResNet152", ("conv1_relu", "conv2_block3_out", "conv3_block8_out",
                                "conv4_block36_out"), "conv5_block3_out"),
}


def imagenet_weights_path(backbone: str) -> str:
    """Where Keras caches the ImageNet weights (without top) of ``backbone``.

    noisenil never downloads: put the file there first (on a machine with internet,
    ``keras.applications.ResNet101(include_top=False)`` fetches it; on Kaggle, attach a dataset
    holding it and copy it to this path).
    """
    file_name = f"{backbone}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    keras_home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
    return os.path.join(keras_home, "models", file_name)


def _resolve_weights(backbone: str, weights: str | None) -> str | None:
    if weights is None:
        return None
    path = imagenet_weights_path(backbone) if weights == "imagenet" else os.fspath(weights)
    if not os.path.isfile(path):
        hint = (" (ImageNet weights are never downloaded by noisenil; place the Keras file "
                "there)" if weights == "imagenet" else "")
        raise ConfigError(f"model.weights={weights!r}: no weights file at {path}{hint}",
                          key="model.weights")
    return path


def build_resnet_encoder(backbone: str = "resnet101", weights: str | None = None) -> keras.Model:
    """The ResNet without top as a model named ``"encoder"`` with a dict of named features.

    Args:
        backbone: ``"resnet50"``, ``"resnet101"`` or ``"resnet152"``.
        weights: ``None``, ``"imagenet"`` or a weights file path (see module docstring).

    Returns:
        Model ``(batch, H, W, 3)`` -> ``{name: features}`` for the skips and the bottleneck of
        :data:`ENCODER_FEATURES` (``H``, ``W`` multiples of 32).
    """
    if backbone not in ENCODER_FEATURES:
        raise ConfigError(f"model.backbone={backbone!r}: choose one of "
                          f"{sorted(ENCODER_FEATURES)}", key="model.backbone")
    constructor, skips, bottleneck = ENCODER_FEATURES[backbone]
    resnet = getattr(keras.applications, constructor)(
        include_top=False, weights=_resolve_weights(backbone, weights), input_shape=(None, None, 3))
    outputs = {name: resnet.get_layer(name).output for name in (*skips, bottleneck)}
    return keras.Model(resnet.input, outputs, name="encoder")


def unet_decoder(features: Mapping[str, keras.KerasTensor], *, skips: Sequence[str],
                 bottleneck: str, widths: Sequence[int], dropout: float = 0.0):
    """A U-Net decoder over named encoder features; encoder-agnostic.

    Args:
        features: Encoder features by name.
        skips: Skip feature names, shallow (highest resolution) to deep.
        bottleneck: Name of the deepest feature, at half the resolution of ``skips[-1]``.
        widths: Filters per up-sampling stage, deepest first; ``len(skips) + 1`` of them (the
            last stage up-samples to input resolution without a skip).
        dropout: Dropout rate after each stage.

    Returns:
        Features at the encoder input's resolution with ``widths[-1]`` channels.
    """
    if len(widths) != len(skips) + 1:
        raise ConfigError(f"widths={list(widths)}: need {len(skips) + 1} decoder widths for "
                          f"{len(skips)} skips", key="model.hparams.decoder_filters")
    x = features[bottleneck]
    for stage, filters in enumerate(widths):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{stage}_up")(x)
        skip_index = len(skips) - 1 - stage
        if skip_index >= 0:
            x = layers.Concatenate(name=f"dec{stage}_skip")([x, features[skips[skip_index]]])
        for i in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              kernel_initializer="he_normal", name=f"dec{stage}_conv{i}")(x)
            x = layers.ReLU(name=f"dec{stage}_relu{i}")(
                layers.BatchNormalization(name=f"dec{stage}_bn{i}")(x))
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"dec{stage}_dropout")(x)
    return x


def build_resnet_unet(*, channels: int = 1, backbone: str = "resnet101",
                      weights: str | None = None, decoder_filters: int = 16,
                      dropout: float = 0.0, output_activation: str = "linear") -> keras.Model:
    """ResNet-encoder U-Net.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        backbone: ``"resnet50"``, ``"resnet101"`` (default) or ``"resnet152"``.
        weights: ``None``, ``"imagenet"`` (from the Keras cache) or a weights file path.
        decoder_filters: Filters of the last decoder stage; each deeper stage doubles them
            (16 gives 256-128-64-32-16).
        dropout: Dropout rate after each decoder stage.
        output_activation: ``"linear"`` (default) or ``"sigmoid"`` (seed 002, magnitude only).

    Returns:
        Uncompiled model, ``(batch, freq, time, channels)`` -> same shape.
    """
    encoder = build_resnet_encoder(backbone, weights)
    _, skips, bottleneck = ENCODER_FEATURES[backbone]
    inputs = keras.Input((None, None, channels), name="noisy")
    x = PadToMultiple(32, name="pad")(inputs)
    copy = np.ones((1, 1, channels, 3), "float32") / channels
    x = layers.Conv2D(3, 1, name="to_rgb",
                      kernel_initializer=keras.initializers.Constant(copy))(x)
    widths = [decoder_filters * 2 ** i for i in reversed(range(len(skips) + 1))]
    x = unet_decoder(encoder(x), skips=skips, bottleneck=bottleneck, widths=widths,
                     dropout=dropout)
    x = layers.Conv2D(channels, 1, activation=output_activation, name="clean")(x)
    return keras.Model(inputs, CropToReference(name="crop")([x, inputs]), name="resnet_unet")
