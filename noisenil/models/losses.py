"""Training losses, chosen by name from the config (``model.loss``).

``log_cosh`` (default, seed 002: less sensitive to outliers than MSE), ``l1`` (seed 001's mean
absolute error) and ``mse``. All are Keras built-ins, so saved models reload without
``custom_objects``.
"""

from __future__ import annotations

import keras

from noisenil.errors import ConfigError

LOSSES = {
    "log_cosh": keras.losses.LogCosh,
    "l1": keras.losses.MeanAbsoluteError,
    "mse": keras.losses.MeanSquaredError,
}


def get_loss(name: str) -> keras.losses.Loss:
    """A fresh loss object for ``name`` (one of :data:`LOSSES`).

    Raises:
        ConfigError: Unknown name; the message lists the choices.
    """
    if name not in LOSSES:
        raise ConfigError(f"model.loss={name!r}: unknown loss; choose one of {sorted(LOSSES)}",
                          key="model.loss")
    return LOSSES[name]()
