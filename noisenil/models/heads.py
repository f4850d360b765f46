"""The output heads every family shares: a body's features at input resolution -> the output.

A family's builder is its body (features at the noisy input's resolution); :func:`output_head`
forms the output, so a new backbone is one body file and inherits every head (``model.head``):

- ``mask`` (default): a gain per bin in ``[g_min, 1]`` applied to the noisy features
  (:class:`~noisenil.models.layers.masks.MagnitudeMask`; ``g_min`` from ``model.min_gain_db``),
  or on the complex representation a bounded complex ratio mask
  (:class:`~noisenil.models.layers.masks.ComplexMask`, ``|M| <= 1``). Bounded by construction:
  no bin ever comes out louder than it went in, and clean input passes nearly untouched.
- ``residual``: ``noisy - noise``, the network predicting what to take away (DnCNN's paper).
- ``mapping``: the published heads of the seeds (a convolution straight to the clean features:
  seed 004's 1x1, seed 002's sigmoid 1x1, seed 001's stage-2 3x3), for reproducing the papers.
  Unbounded: the inference path limits its bins to the noisy input + ``max_gain_db``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keras import layers

from noisenil.config import FeatureConfig
from noisenil.errors import ConfigError
from noisenil.models.layers.masks import ComplexMask, MagnitudeMask

#: The heads ``model.head`` may name.
HEADS = ("mask", "residual", "mapping")


def feature_scale(features: FeatureConfig) -> dict[str, Any]:
    """What a mask head needs of the feature settings: how a magnitude gain acts on them."""
    return {"magnitude_scale": features.magnitude_scale, "power": features.power,
            "db_floor": features.db_floor}


#: Feature scale assumed when a builder is called without one (the ``features`` defaults).
DEFAULT_SCALE = feature_scale(FeatureConfig())


def check_head(head: str, min_gain_db: float) -> None:
    """Refuse an unknown head or a minimum gain that is not a finite negative dB value."""
    if head not in HEADS:
        raise ConfigError(f"model.head={head!r}: choose one of {list(HEADS)}", key="model.head")
    if not -120.0 <= float(min_gain_db) < 0.0:
        raise ConfigError(f"model.min_gain_db={min_gain_db!r}: must be in [-120, 0) dB",
                          key="model.min_gain_db")


def output_head(x, noisy, *, head: str = "mask", channels: int = 1, min_gain_db: float = -30.0,
                feature_scale: Mapping[str, Any] | None = None, mapping_kernel: int = 1,
                mapping_activation: str | None = None, name: str = "clean"):
    """Turn body features into the output.

    Args:
        x: Body features ``(batch, freq, time, k)`` at the noisy input's resolution.
        noisy: The noisy input ``(batch, freq, time, channels)``.
        head: ``"mask"``, ``"residual"`` or ``"mapping"`` (see the module docstring).
        channels: 1 (magnitude) or 2 (complex).
        min_gain_db: The mask's floor, in dB.
        feature_scale: ``{"magnitude_scale", "power", "db_floor"}`` of the features (how a
            magnitude gain acts on them); :data:`DEFAULT_SCALE` if ``None``.
        mapping_kernel: Kernel size of the head's one convolution (mask logits, noise or clean
            features): the family's published output convolution (1, or 3 for DnCNN and the
            two-stage U-Net), so every head has the published parameter count.
        mapping_activation: Its activation (seed 002: ``"sigmoid"``).
        name: Name of the output layer.

    Returns:
        The output tensor, the shape of ``noisy``.
    """
    check_head(head, min_gain_db)
    if head == "mapping":
        return layers.Conv2D(channels, mapping_kernel, padding="same",
                             activation=mapping_activation, name=name)(x)
    if head == "residual":
        noise = layers.Conv2D(channels, mapping_kernel, padding="same", name="noise")(x)
        return layers.Subtract(name=name)([noisy, noise])
    logits = layers.Conv2D(channels, mapping_kernel, padding="same", name="mask_logits")(x)
    if channels == 2:
        return ComplexMask(name=name)([logits, noisy])
    scale = {**DEFAULT_SCALE, **(feature_scale or {})}
    return MagnitudeMask(min_gain_db, scale["magnitude_scale"], scale["power"],
                         scale["db_floor"], name=name)([logits, noisy])
