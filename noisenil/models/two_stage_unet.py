"""``two_stage_unet``: Moliner & Välimäki's two-stage U-Net with supervised attention (seed 001).

Fig. 1 and 2 of seed 001, on any of our representations (the paper uses the complex one):

- 10 frequency-positional embedding channels appended to the input spectrogram ``X``;
- per stage, an early feature extractor (a 7x7 convolution + ELU);
- per stage, a U-Net: ``depth`` scales, each an I-block (three densely connected 3x3 conv + ELU
  layers, plus a 1x1 projection of the block input as residual connection) feeding a skip
  connection and a strided 4x4 convolution (stride 2) down; an I-block at the bottleneck; the
  decoder mirrors it with 4x4 transposed convolutions (stride 2) up, skip concatenation and an
  I-block;
- stage 1 predicts the residual noise ``N_hat``; the supervised attention module (SAM) gives the
  stage-1 estimate ``Y1 = X + N_hat`` and attention-guided features, concatenated with the second
  stage's early features;
- stage 2's features, at input resolution, go to the shared output head
  (:mod:`noisenil.models.heads`): a bounded mask of the noisy input by default; the paper's 3x3
  convolution to the clean estimate ``Y2`` is ``head="mapping"``.

Both ``Y2`` and ``Y1`` are supervised, the loss summed over both (equation 2) by
:class:`~noisenil.models.staged_model.StagedModel`; the model returns ``Y2`` alone outside of
training. No normalization layers (the paper found none helped). Adam with ``beta_1=0.5,
beta_2=0.9`` and a 1e-4 learning rate, as in the paper.

Widths: scale ``i`` has ``min(filters * growth**i, max_filters)`` channels, the bottleneck that of
scale ``depth``. The defaults (depth 4, 32 filters doubling to a 256 cap: 32-64-128-256-256) have
38.3 M parameters (153 MB of float32 weights) and train at batch 8 on one 16 GB T4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
from keras import layers

from noisenil.models.heads import check_head, output_head
from noisenil.models.layers import CropToReference, FrequencyEmbedding, PadToMultiple, SupervisedAttention
from noisenil.models.staged_model import StagedModel


def _i_block(x, filters: int, name: str, layers_per_block: int = 3):
    """I-block: a densely connected 3x3 conv stack plus a 1x1-projected residual of its input."""
    block_input, dense = x, x
    for i in range(layers_per_block):
        out = layers.Conv2D(filters, 3, padding="same", activation="elu",
                            name=f"{name}_dense{i}")(dense)
        if i < layers_per_block - 1:
            dense = layers.Concatenate(name=f"{name}_concat{i}")([dense, out])
    residual = layers.Conv2D(filters, 1, name=f"{name}_residual")(block_input)
    return layers.Add(name=f"{name}_out")([out, residual])


def _u_net(x, widths: list[int], stage: int):
    """One U-Net subnetwork (Fig. 2a); returns features with ``widths[0]`` channels."""
    depth = len(widths) - 1
    skips = []
    for level in range(depth):
        skip = _i_block(x, widths[level], f"s{stage}_enc{level}")
        skips.append(skip)
        x = layers.Conv2D(widths[level + 1], 4, strides=2, padding="same", activation="elu",
                          name=f"s{stage}_down{level}")(skip)
    x = _i_block(x, widths[depth], f"s{stage}_bottleneck")
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(widths[level], 4, strides=2, padding="same", activation="elu",
                                   name=f"s{stage}_up{level}")(x)
        x = layers.Concatenate(name=f"s{stage}_skip{level}")([x, skips[level]])
        x = _i_block(x, widths[level], f"s{stage}_dec{level}")
    return x


def stage_widths(filters: int, growth: float, depth: int, max_filters: int) -> list[int]:
    """Channels per scale, ``[scale 0, ..., scale depth (bottleneck)]``."""
    return [min(int(round(filters * growth ** i)), max_filters) for i in range(depth + 1)]


def build_two_stage_unet(*, channels: int = 1, depth: int = 4, filters: int = 32,
                         growth: float = 2.0, max_filters: int = 256, embeddings: int = 10,
                         early_kernel: int = 7, head: str = "mask", min_gain_db: float = -30.0,
                         feature_scale: Mapping[str, Any] | None = None) -> keras.Model:
    """The two-stage U-Net of seed 001.

    Args:
        channels: Input and output channels (1 magnitude, 2 complex).
        depth: Down-samplings per U-Net (the input is padded to a multiple of ``2**depth``).
        filters: Channels at the first scale.
        growth: Width multiplier from one scale to the next.
        max_filters: Cap on the channels of any scale.
        embeddings: Frequency-positional embedding channels (0 disables them).
        early_kernel: Kernel size of the early feature extractors.
        head: The final output's head: ``"mask"``, ``"residual"`` or ``"mapping"`` (the paper).
        min_gain_db: The mask head's floor, in dB.
        feature_scale: The features' scale, for the mask head.

    Returns:
        Uncompiled :class:`~noisenil.models.staged_model.StagedModel`: ``(batch, freq, time,
        channels)`` -> same shape (the stage-2 estimate); in training also the stage-1 one.
    """
    check_head(head, min_gain_db)
    widths = stage_widths(filters, growth, depth, max_filters)
    inputs = keras.Input((None, None, channels), name="noisy")
    spectrogram = PadToMultiple(2 ** depth, name="pad")(inputs)
    embedded = FrequencyEmbedding(embeddings, name="embedding")(inputs) if embeddings else inputs
    embedded = PadToMultiple(2 ** depth, name="pad_embedded")(embedded)

    def early_features(stage):
        return layers.Conv2D(widths[0], early_kernel, padding="same", activation="elu",
                             name=f"s{stage}_early")(embedded)

    features1 = _u_net(early_features(1), widths, stage=1)
    features_sam, stage1 = SupervisedAttention(widths[0], channels, name="sam")(
        [features1, spectrogram])
    x = layers.Concatenate(name="s2_input")([early_features(2), features_sam])
    features2 = CropToReference(name="s2_crop")([_u_net(x, widths, stage=2), inputs])
    clean = output_head(features2, inputs, head=head, channels=channels,
                        min_gain_db=min_gain_db, feature_scale=feature_scale, mapping_kernel=3)
    outputs = [clean, CropToReference(name="stage1")([stage1, inputs])]
    return StagedModel(inputs, outputs, name="two_stage_unet")
