"""Argument checks shared by the signal measures and evaluation metrics: signal pairs, feature
pairs, sample rates.

Every check raises with a message that names the argument and what is wrong with it.
"""

from __future__ import annotations

import numpy as np

from noisenil.errors import AudioError, ConfigError


def check_pair(ref: np.ndarray, est: np.ndarray, *, names: tuple[str, str] = ("ref", "est"),
               audio: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 after checking rank, shape and finiteness.

    Args:
        ref: Reference, ``(samples,)`` (``audio=True``) or ``(freq, time[, channels])``.
        est: Estimate, same shape.
        names: The arguments' names, for the messages.
        audio: Waveforms (1-D) rather than features (2-D or 3-D).

    Raises:
        AudioError: Wrong rank, empty, NaN/Inf values or unequal shapes, naming the argument.
    """
    arrays = []
    for name, x in zip(names, (ref, est), strict=True):
        x = np.asarray(x, dtype=np.float64)
        if audio and x.ndim != 1:
            raise AudioError(f"{name}: expected a 1-D signal (samples,), got shape {x.shape}")
        if not audio and x.ndim not in (2, 3):
            raise AudioError(f"{name}: expected (freq, time) or (freq, time, channels), "
                             f"got shape {x.shape}")
        if x.size == 0:
            raise AudioError(f"{name}: empty")
        if not np.all(np.isfinite(x)):
            raise AudioError(f"{name}: contains NaN or Inf values")
        arrays.append(x)
    a, b = arrays
    if a.shape != b.shape:
        if audio:
            raise AudioError(f"{names[1]} has {b.shape[0]} samples but {names[0]} has "
                             f"{a.shape[0]}: lengths must be equal")
        raise AudioError(f"{names[1]} has shape {b.shape} but {names[0]} has {a.shape}: "
                         "shapes must be equal")
    return a, b


def check_rate(sample_rate: int) -> None:
    """Raises :class:`~noisenil.errors.ConfigError` unless ``sample_rate`` is a positive int."""
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ConfigError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)",
                          key="sample_rate")
