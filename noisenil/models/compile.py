"""The compile step shared by every family: Adam, a named loss and the SNR/SSIM metrics.

Kept apart from the architectures (plain builders) and from the search spaces (the HyperModels
in :mod:`noisenil.models.hypermodels`), so training a fixed model needs no keras_tuner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras

from noisenil.errors import ConfigError
from noisenil.models.losses import get_loss
from noisenil.models.metrics import SNR, SSIM


#: Metric names accepted in ``model.metrics``.
METRICS = {"snr": SNR, "ssim": SSIM}


def check_metrics(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ConfigError(f"model.metrics={list(metrics)!r}: unknown {unknown}; "
                          f"choose from {sorted(METRICS)}", key="model.metrics")


def compile_denoiser(model: keras.Model, *, learning_rate: float = 1e-3, loss: str = "spectral_sdr",
                     beta_1: float = 0.9, beta_2: float = 0.999,
                     metrics: Sequence[str] = ("snr",), channels: int = 1,
                     feature_scale: Mapping[str, Any] | None = None) -> keras.Model:
    """Compile ``model`` with Adam, a named loss (default ``spectral_sdr``) and the SNR metric.

    Args:
        model: An uncompiled model from a builder.
        learning_rate: Adam's learning rate.
        loss: A name of :data:`noisenil.models.losses.LOSSES` (``"log_cosh"``, ``"l1"``,
            ``"mse"``, ``"spectral_sdr"``).
        beta_1: Adam's first-moment decay.
        beta_2: Adam's second-moment decay.
        metrics: Metric names: ``"snr"`` (:class:`~noisenil.models.metrics.SNR`), ``"ssim"``
            (:class:`~noisenil.models.metrics.SSIM`, data range 1).
        channels: Feature channels (1 magnitude, 2 complex), for ``spectral_sdr``.
        feature_scale: How the features are compressed (:func:`noisenil.models.heads.feature_scale`),
            for ``spectral_sdr``.

    Returns:
        The same model, compiled.
    """
    check_metrics(metrics)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2),
                  loss=get_loss(loss, channels=channels, feature_scale=feature_scale),
                  metrics=[METRICS[m]() for m in metrics])
    # Create the optimizer's slots now, outside any traced function: on TensorFlow, creating
    # them during the first traced step makes it trace twice (ResNet50 U-Net: 35 -> 19 s
    # before the first epoch's first step on 2 CPU cores).
    model.optimizer.build(model.trainable_variables)
    return model
