"""Spectrogram measures: MSE and SSIM between noisenil features, in numpy.

Arguments are noisenil features ``(freq, time)`` or ``(freq, time, channels)`` of equal shape,
reference (clean) first; the default dB magnitude features lie in [0, 1], hence
``data_range=1.0``. Unequal shapes or NaN/Inf values raise :class:`~noisenil.errors.AudioError`
naming the argument.
"""

from __future__ import annotations

import numpy as np

from noisenil.errors import AudioError, ConfigError
from noisenil.dsp.checks import check_pair

_NAMES = ("ref_features", "est_features")


def spectrogram_mse(ref_features: np.ndarray, est_features: np.ndarray) -> float:
    """Mean squared error between two feature arrays.

    Shape:
        Both ``(freq, time)`` or ``(freq, time, channels)``, equal shapes.

    Returns:
        The mean over every element, in squared feature units (0 for identical inputs).

    Raises:
        AudioError: Shapes differ or NaN/Inf values, naming the argument.
    """
    a, b = check_pair(ref_features, est_features, names=_NAMES, audio=False)
    return float(np.mean((a - b) ** 2))


def spectrogram_ssim(ref_features: np.ndarray, est_features: np.ndarray, *,
                     data_range: float = 1.0) -> float:
    """Structural similarity (scikit-image, 7x7 uniform window) of two feature arrays.

    Multi-channel inputs give the mean SSIM over channels. Inputs smaller than 7 in either axis
    use the largest odd window that fits (at least 3).

    Args:
        ref_features: Reference features, ``(freq, time)`` or ``(freq, time, channels)``.
        est_features: Estimate, same shape.
        data_range: Span of possible feature values; 1.0 for noisenil's default dB magnitude
            features in [0, 1].

    Returns:
        Mean SSIM in [-1, 1]; 1 for identical inputs.

    Raises:
        AudioError: Shapes differ, NaN/Inf values, or an axis shorter than 3.
    """
    from skimage.metrics import structural_similarity

    a, b = check_pair(ref_features, est_features, names=_NAMES, audio=False)
    if not data_range > 0:
        raise ConfigError(f"data_range={data_range!r} must be positive", key="data_range")
    side = min(7, a.shape[0], a.shape[1])
    win = side if side % 2 else side - 1
    if win < 3:
        raise AudioError(f"ref_features: shape {a.shape} is too small for SSIM "
                         "(needs at least 3x3)")
    channel_axis = -1 if a.ndim == 3 else None
    return float(structural_similarity(a, b, data_range=data_range, win_size=win,
                                       channel_axis=channel_axis))
