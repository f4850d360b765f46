"""Bounded output layers: a gain per bin applied to the noisy features (keras.ops only).

The gain is a *magnitude* gain ``g`` in ``[g_min, 1]``; how it acts on the features depends on
their scale (:mod:`noisenil.dsp.features`), so every layer carries that scale in its config:

- power-law magnitude ``f = (|S|/ref)^p``: ``f' = f * g^p``;
- dB magnitude ``f = 1 + dB/-floor``: ``f' = max(f + 20 log10(g) / -floor, 0)``;
- complex ``c = (|S|/ref)^p e^{j phi}``: a complex ratio mask ``M`` with ``|M| <= 1``.

Whatever the network computes, the output never exceeds the input bin by bin: the head is
bounded by construction, not clipped afterwards.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="noisenil")
class MagnitudeMask(keras.layers.Layer):
    """``[logits, noisy] -> noisy`` with each bin's magnitude scaled by ``g in [g_min, 1]``.

    Args:
        min_gain_db: ``20 log10(g_min)``, in dB (< 0): the most a bin is attenuated.
        magnitude_scale: ``"power"`` or ``"db"``, as ``features.magnitude_scale``.
        power: The power-law exponent (``features.power``).
        db_floor: The dB scale's floor (``features.db_floor``, < 0).

    Shape:
        Two inputs ``(batch, freq, time, 1)``; output the same shape.
    """

    def __init__(self, min_gain_db: float = -30.0, magnitude_scale: str = "power",
                 power: float = 0.3, db_floor: float = -100.0, **kwargs):
        super().__init__(**kwargs)
        self.min_gain_db = float(min_gain_db)
        self.magnitude_scale = magnitude_scale
        self.power = float(power)
        self.db_floor = float(db_floor)

    def gain(self, logits):
        """The magnitude gain in ``[g_min, 1]`` for ``logits``."""
        g_min = 10.0 ** (self.min_gain_db / 20.0)
        return g_min + (1.0 - g_min) * ops.sigmoid(logits)

    def call(self, inputs):
        logits, noisy = inputs
        g = self.gain(logits)
        if self.magnitude_scale == "db":
            shift = 20.0 * ops.log(g) / math.log(10.0) / -self.db_floor
            return ops.maximum(noisy + shift, 0.0)
        return noisy * g ** self.power

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "min_gain_db": self.min_gain_db,
                "magnitude_scale": self.magnitude_scale, "power": self.power,
                "db_floor": self.db_floor}


@keras.saving.register_keras_serializable(package="noisenil")
class ComplexMask(keras.layers.Layer):
    """``[logits, noisy] -> noisy * M``: a bounded complex ratio mask on compressed complex
    features (real, imaginary channels), ``|M| = tanh(|z|) <= 1`` for ``z`` the logits.

    Shape:
        Two inputs ``(batch, freq, time, 2)``; output the same shape.
    """

    def call(self, inputs):
        logits, noisy = inputs
        zr, zi = logits[..., 0:1], logits[..., 1:2]
        size = ops.sqrt(zr * zr + zi * zi + 1e-12)
        scale = ops.tanh(size) / size
        mr, mi = zr * scale, zi * scale
        nr, ni = noisy[..., 0:1], noisy[..., 1:2]
        return ops.concatenate([nr * mr - ni * mi, nr * mi + ni * mr], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[1]
