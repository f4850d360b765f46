"""The supervised attention module (SAM) between the two stages of ``two_stage_unet``.

Seed 001 (Fig. 1), after Zamir et al.'s MPRNet: from the first stage's output features ``F``,
a 3x3 convolution predicts the residual noise ``N_hat``; the stage-1 estimate is
``Y1 = X + N_hat`` (supervised by the loss); attention masks ``M = sigmoid(conv1x1(Y1))`` gate a
3x3 convolution of ``F``, and the attention-guided features ``F_sam = conv3x3(F) * M + F`` are
what the second stage receives. Only what the stage-1 estimate supports is propagated.
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="noisenil")
class SupervisedAttention(keras.layers.Layer):
    """SAM: stage-1 estimate and attention-guided features.

    Args:
        filters: Channels of ``F`` (and of ``F_sam``).
        channels: Channels of the spectrogram ``X`` (1 magnitude, 2 complex).

    Call arguments:
        inputs: ``[features, spectrogram]``.

    Returns:
        ``(features_sam, stage1)``: the attention-guided features and ``Y1 = X + N_hat``.

    Shape:
        ``features``: ``(batch, freq, time, filters)``; ``spectrogram``: ``(batch, freq, time,
        channels)``; outputs ``(batch, freq, time, filters)`` and ``(batch, freq, time,
        channels)``.
    """

    def __init__(self, filters: int, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.channels = int(channels)
        # Zero-initialised: a fresh stage 1 returns its input exactly (stage 1 = input + noise
        # estimate), so the stage-1 loss starts at the identity's and learns from there; a
        # random start adds noise the network must first learn to take back out.
        self.noise_conv = layers.Conv2D(self.channels, 3, padding="same",
                                        kernel_initializer="zeros", name="noise")
        self.feature_conv = layers.Conv2D(self.filters, 3, padding="same", name="features")
        self.mask_conv = layers.Conv2D(self.filters, 1, activation="sigmoid", name="mask")

    def build(self, input_shapes):
        features_shape, spectrogram_shape = input_shapes
        self.noise_conv.build(features_shape)
        self.feature_conv.build(features_shape)
        self.mask_conv.build(spectrogram_shape)

    def predict_noise(self, features):
        """The residual noise ``N_hat`` predicted from the stage-1 features."""
        return self.noise_conv(features)

    def call(self, inputs):
        features, spectrogram = inputs
        stage1 = spectrogram + self.predict_noise(features)
        masks = self.mask_conv(stage1)
        return self.feature_conv(features) * masks + features, stage1

    def compute_output_shape(self, input_shapes):
        features_shape, spectrogram_shape = input_shapes
        return tuple(features_shape), (*spectrogram_shape[:3], self.channels)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "channels": self.channels}
