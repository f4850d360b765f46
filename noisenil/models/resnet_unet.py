"""``resnet_unet``: a U-Net decoder on a ``keras.applications`` ResNet encoder (seed 002).

A 1x1 convolution maps the spectrogram's 1 (magnitude) or 2 (complex) channels to the 3 that
ImageNet ResNets take, initialised to copy a magnitude into all three. The encoder is the ResNet
without its top, wrapped as a sub-model named ``"encoder"`` whose outputs are a dict of named
features: the four skips at 1/2, 1/4, 1/8 and 1/16 resolution and the 1/32 bottleneck
(:data:`ENCODER_FEATURES`). :func:`unet_decoder` knows nothing of ResNets: it takes that dict and
the names, up-samples 2x five times, concatenating the matching skip and applying two 3x3
conv + batch norm + ReLU layers each time; the features, cropped back to input resolution (inputs
are padded to a multiple of 32), go to the shared output head (:mod:`noisenil.models.heads`: a
bounded mask by default). Seed 002's head, a sigmoid 1x1 convolution to the clean features, is
``head="mapping", output_activation="sigmoid"`` (linear by default, since complex features are
signed and magnitude features can exceed 1).

Weights: ``None`` (default), ``"imagenet"`` (read from the Keras cache, never downloaded: see
:func:`imagenet_weights_path`) or the path of a weights file for the same ResNet without top.
The encoder can be frozen for the first ``freeze_epochs`` epochs (see
:meth:`~noisenil.models.hypermodels.base.DenoiserHyperModel.fit`). ResNet101 with decoder widths
256-128-64-32-16 has 51.7 M parameters (42.7 M in the encoder).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from noisenil.errors import ConfigError
from noisenil.models.heads import check_head, output_head
from noisenil.models.layers import BilinearUpsample2x, CropToReference, PadToMultiple

#: keras.applications constructor, skip features (shallow to deep) and bottleneck per backbone.
#: ``resnet_tiny`` is :func:`build_tiny_resnet` (no keras.applications model): one residual
#: block per stage at the same resolutions, for tests and CPU smoke runs.
ENCODER_FEATURES = {
    "resnet50": ("ResNet50", ("conv1_relu", "conv2_block3_out", "conv3_block4_out",
                              "conv4_block6_out"), "conv5_block3_out"),
    "resnet101": ("ResNet101", ("conv1_relu", "conv2_block3_out", "conv3_block4_out",
                                "conv4_block23_out"), "conv5_block3_out"),
    "resnet152": ("ResNet152", ("conv1_relu", "conv2_block3_out", "conv3_block8_out",
                                "conv4_block36_out"), "conv5_block3_out"),
    "resnet_tiny": ("build_tiny_resnet", ("conv1_relu", "conv2_block1_out", "conv3_block1_out",
                                          "conv4_block1_out"), "conv5_block1_out"),
}


def build_tiny_resnet(filters: int = 8) -> keras.Model:
    """A ResNet of one basic residual block per stage, layer names as in keras.applications.

    The stem (7x7 stride-2 conv, ``conv1_relu``, 3x3 stride-2 max pool) and the stages
    ``conv2`` ... ``conv5`` (1/4 ... 1/32 resolution, ``filters`` x 1, 2, 4, 8, 16 channels) sit
    where ResNet50's do, so the decoder takes it like any other backbone.

    Returns:
        Model ``(batch, H, W, 3)`` -> ``(batch, H/32, W/32, 16 * filters)`` (uncompiled).
    """
    inputs = keras.Input((None, None, 3), name="rgb")
    x = layers.Conv2D(filters, 7, strides=2, padding="same", name="conv1_conv")(inputs)
    x = layers.ReLU(name="conv1_relu")(layers.BatchNormalization(name="conv1_bn")(x))
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    for stage in range(2, 6):
        width, stride = filters * 2 ** (stage - 1), 1 if stage == 2 else 2
        name = f"conv{stage}_block1"
        shortcut = layers.Conv2D(width, 1, strides=stride, name=f"{name}_0_conv")(x)
        y = layers.Conv2D(width, 3, strides=stride, padding="same", name=f"{name}_1_conv")(x)
        y = layers.ReLU(name=f"{name}_1_relu")(layers.BatchNormalization(name=f"{name}_1_bn")(y))
        y = layers.Conv2D(width, 3, padding="same", name=f"{name}_2_conv")(y)
        y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
        x = layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))
    return keras.Model(inputs, x, name="resnet_tiny")


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
    if backbone == "resnet_tiny":
        resnet = build_tiny_resnet()
        if weights is not None:
            resnet.load_weights(_resolve_weights(backbone, weights))
    else:
        resnet = getattr(keras.applications, constructor)(
            include_top=False, weights=_resolve_weights(backbone, weights),
            input_shape=(None, None, 3))
    return encoder_features(resnet, (*skips, bottleneck))


def encoder_features(model: keras.Model, names: Sequence[str]) -> keras.Model:
    """Wrap an image model as the ``"encoder"`` sub-model whose outputs are its named layers.

    Args:
        model: Any functional image model taking ``(batch, H, W, 3)``.
        names: Layers whose outputs the decoder uses (skips shallow to deep, then bottleneck).

    Raises:
        ConfigError: A name is not a layer of ``model`` (the message lists a few that are).
    """
    known = {layer.name for layer in model.layers}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"encoder skips {missing}: not layers of {model.name!r} (it has e.g. "
                          f"{sorted(known)[:6]})", key="model.backbone")
    return keras.Model(model.input, {n: model.get_layer(n).output for n in names},
                       name="encoder")


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
        x = BilinearUpsample2x(name=f"dec{stage}_up")(x)  # any input size (see the layer)
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
                      dropout: float = 0.0, output_activation: str = "linear",
                      head: str = "mask", min_gain_db: float = -30.0,
                      feature_scale: Mapping[str, Any] | None = None,
                      encoder: keras.Model | None = None,
                      skips: Sequence[str] | None = None,
                      bottleneck: str | None = None) -> keras.Model:
    """ResNet-encoder U-Net.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        backbone: ``"resnet50"``, ``"resnet101"`` (default), ``"resnet152"`` or
            ``"resnet_tiny"`` (:func:`build_tiny_resnet`); ignored when ``encoder`` is given.
        weights: ``None``, ``"imagenet"`` (from the Keras cache) or a weights file path.
        encoder: An image model to use as the encoder instead of ``backbone`` (as keras-hub's
            tasks take a backbone), with ``skips`` and ``bottleneck`` naming its layers at
            1/2, 1/4, 1/8, 1/16 and 1/32 resolution.
        skips: The encoder's skip layer names, shallow to deep (with ``encoder``).
        bottleneck: The encoder's deepest layer name (with ``encoder``).
        decoder_filters: Filters of the last decoder stage; each deeper stage doubles them
            (16 gives 256-128-64-32-16).
        dropout: Dropout rate after each decoder stage.
        output_activation: Activation of the ``mapping`` head: ``"linear"`` (default) or
            ``"sigmoid"`` (seed 002, magnitude only).
        head: ``"mask"``, ``"residual"`` or ``"mapping"`` (:mod:`noisenil.models.heads`).
        min_gain_db: The mask head's floor, in dB.
        feature_scale: The features' scale, for the mask head.

    Returns:
        Uncompiled model, ``(batch, freq, time, channels)`` -> same shape.
    """
    check_head(head, min_gain_db)
    if encoder is None:
        encoder = build_resnet_encoder(backbone, weights)
        _, skips, bottleneck = ENCODER_FEATURES[backbone]
    elif skips is None or bottleneck is None:
        raise ConfigError("encoder given without skips and bottleneck: name its layers at "
                          "1/2 ... 1/16 and 1/32 resolution", key="model.backbone")
    else:
        encoder = encoder_features(encoder, (*skips, bottleneck))
    inputs = keras.Input((None, None, channels), name="noisy")
    x = PadToMultiple(32, name="pad")(inputs)
    copy = np.ones((1, 1, channels, 3), "float32") / channels
    x = layers.Conv2D(3, 1, name="to_rgb",
                      kernel_initializer=keras.initializers.Constant(copy))(x)
    widths = [decoder_filters * 2 ** i for i in reversed(range(len(skips) + 1))]
    x = unet_decoder(encoder(x), skips=skips, bottleneck=bottleneck, widths=widths,
                     dropout=dropout)
    x = CropToReference(name="crop")([x, inputs])
    out = output_head(x, inputs, head=head, channels=channels, min_gain_db=min_gain_db,
                      feature_scale=feature_scale, mapping_kernel=1,
                      mapping_activation=output_activation)
    return keras.Model(inputs, out, name="resnet_unet")
