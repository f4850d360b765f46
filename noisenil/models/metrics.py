"""Training metrics on the training representation (features), written with ``keras.ops``.

:class:`SNR` is the default training metric and the default tuner objective (``val_snr``);
:class:`SSIM` is an optional extra (``model`` metrics ``["snr", "ssim"]``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="noisenil")
class SNR(keras.metrics.Metric):
    """Signal-to-noise ratio in dB of the prediction against the target, higher is better.

    ``10 * log10(sum(y_true**2) / sum((y_true - y_pred)**2))`` with both sums accumulated over
    every element of every batch of the epoch, so silent (all-zero) target patches add no signal
    and only their error: they cannot produce infinities or dominate an average of per-patch
    ratios. Computed on the features the model is trained on (not on audio).

    Args:
        name: Metric name; ``"snr"`` makes the validation value ``val_snr``.
        eps: Added to both sums, so a perfect prediction gives a large finite value.
    """

    def __init__(self, name: str = "snr", eps: float = 1e-10, **kwargs):
        super().__init__(name=name, **kwargs)
        self.eps = float(eps)
        self.signal = self.add_variable(shape=(), initializer="zeros", name="signal")
        self.error = self.add_variable(shape=(), initializer="zeros", name="error")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        self.signal.assign_add(ops.sum(ops.square(y_true)))
        self.error.assign_add(ops.sum(ops.square(y_true - y_pred)))

    def result(self):
        ratio = (self.signal + self.eps) / (self.error + self.eps)
        return 10.0 * ops.log(ratio) / ops.log(10.0)

    def reset_state(self):
        self.signal.assign(0.0)
        self.error.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


def _gaussian_kernel(size: int, sigma: float, channels: int) -> np.ndarray:
    g = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
    g = np.outer(g, g) / np.sum(g) ** 2
    return np.tile(g[:, :, None, None], (1, 1, channels, 1)).astype("float32")


@keras.saving.register_keras_serializable(package="noisenil")
class SSIM(keras.metrics.Metric):
    """Structural similarity of predicted and target spectrogram patches, averaged over patches.

    Wang et al.'s SSIM with an 11x11 Gaussian window (sigma 1.5) over the valid region of each
    channel, ``K1 = 0.01``, ``K2 = 0.03``: the settings of scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``,
    which it matches to 1e-4. 1 means identical. Patches smaller than the window are not
    supported.

    Args:
        data_range: The value range of the features (1.0 for the default dB scale, which maps
            ``features.db_floor`` .. 0 dBFS to 0 .. 1).
        name: Metric name (``val_ssim`` in validation).
    """

    def __init__(self, data_range: float = 1.0, name: str = "ssim", **kwargs):
        super().__init__(name=name, **kwargs)
        self.data_range = float(data_range)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        kernel = ops.convert_to_tensor(_gaussian_kernel(11, 1.5, y_true.shape[-1]), self.dtype)

        def blur(x):
            return ops.depthwise_conv(x, kernel, strides=1, padding="valid")

        c1, c2 = (0.01 * self.data_range) ** 2, (0.03 * self.data_range) ** 2
        mu_t, mu_p = blur(y_true), blur(y_pred)
        var_t = blur(y_true * y_true) - mu_t * mu_t
        var_p = blur(y_pred * y_pred) - mu_p * mu_p
        cov = blur(y_true * y_pred) - mu_t * mu_p
        ssim_map = ((2 * mu_t * mu_p + c1) * (2 * cov + c2)
                    / ((mu_t * mu_t + mu_p * mu_p + c1) * (var_t + var_p + c2)))
        per_patch = ops.mean(ssim_map, axis=(1, 2, 3))
        self.total.assign_add(ops.sum(per_patch))
        self.count.assign_add(ops.cast(ops.shape(per_patch)[0], self.dtype))

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "data_range": self.data_range}
