"""Where and at what precision a model trains: ``train.strategy`` and ``train.precision``.

``tf.distribute.MirroredStrategy`` is TensorFlow-only and sits behind :func:`distribution_strategy`
(another backend is refused with a message naming the key); the precision is Keras' global dtype
policy, set for a block by :func:`precision_policy`. Both serve :func:`~noisenil.training.train`
and every tuning trial (:mod:`noisenil.tuning`).
"""

from __future__ import annotations

import contextlib
import logging

import keras

from noisenil.errors import ConfigError

logger = logging.getLogger(__name__)


def distribution_strategy(strategy: str, *, key: str = "train.strategy"):
    """The ``tf.distribute`` strategy for ``strategy`` (``none``: ``None``).

    Args:
        strategy: ``none`` or ``mirrored``.
        key: The config key it came from, for the error message.

    Raises:
        ConfigError: ``mirrored`` on a backend other than TensorFlow.
    """
    if strategy == "none":
        return None
    if keras.backend.backend() != "tensorflow":
        raise ConfigError(f"{key}='mirrored': tf.distribute.MirroredStrategy needs "
                          f"KERAS_BACKEND=tensorflow (running on {keras.backend.backend()!r}); "
                          f"use {key}=none", key=key)
    import tensorflow as tf

    mirrored = tf.distribute.MirroredStrategy()
    logger.info("MirroredStrategy over %d replicas: %s", mirrored.num_replicas_in_sync,
                list(mirrored.extended.worker_devices))
    return mirrored


def distribution_scope(strategy: str):
    """``(context manager, replicas)`` for ``train.strategy``.

    Raises:
        ConfigError: ``mirrored`` on a backend other than TensorFlow.
    """
    mirrored = distribution_strategy(strategy)
    if mirrored is None:
        return contextlib.nullcontext(), 1
    return mirrored.scope(), mirrored.num_replicas_in_sync


@contextlib.contextmanager
def precision_policy(name: str):
    """Sets the global Keras dtype policy for the block, restoring the previous one after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


__all__ = ["distribution_scope", "distribution_strategy", "precision_policy"]
