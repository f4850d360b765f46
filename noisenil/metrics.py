"""Training metrics on the training representation (features), written with ``keras.ops``.

:class:`SNR` is the default training metric and the default tuner objective (``val_snr``).
"""

from __future__ import annotations

import keras
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
