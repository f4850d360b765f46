"""Waveform measures: SNR, segmental SNR, SI-SDR and band energy, in numpy.

Conventions:

- Arguments are 1-D float arrays ``(samples,)`` of equal length, reference (clean) first,
  estimate second. NaN/Inf samples or unequal lengths raise :class:`~noisenil.errors.AudioError`
  naming the argument.
- dB values are ``10 * log10`` of energy ratios. SNR and SI-SDR are capped at
  :data:`MAX_DB` (100 dB), which a perfect or merely rescaled estimate reaches.
"""

from __future__ import annotations

import math

import numpy as np

from noisenil.errors import AudioError
from noisenil.dsp.checks import check_pair, check_rate

#: Cap, in dB, of :func:`snr` and :func:`si_sdr` (reached by identical or rescaled signals).
MAX_DB = 100.0

_EPS = 1e-20


def _ratio_db(num: float, den: float) -> float:
    return min(10.0 * math.log10((num + _EPS) / (den + _EPS)), MAX_DB)


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    """Signal-to-noise ratio of an estimate, ``10*log10(sum(ref**2) / sum((ref - est)**2))``.

    Shape:
        ``ref`` and ``est``: ``(samples,)``, equal lengths.

    Returns:
        SNR in dB, capped at :data:`MAX_DB` (identical signals give 100 dB).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples, naming the argument.
    """
    r, e = check_pair(ref, est)
    return _ratio_db(float(np.sum(r * r)), float(np.sum((r - e) ** 2)))


def segmental_snr(ref: np.ndarray, est: np.ndarray, *, sample_rate: int, frame_ms: float = 32.0,
                  hop_ms: float | None = None, min_db: float = -10.0, max_db: float = 35.0,
                  silence_db: float = -40.0) -> float:
    """Segmental SNR: the mean over frames of the per-frame SNR clamped to ``[min_db, max_db]``.

    Frames in which the reference is silent (energy more than ``silence_db`` below the loudest
    reference frame) are left out, so speech pauses do not pull the mean to ``min_db``. A
    signal shorter than one frame is one frame.

    Args:
        ref: Clean reference ``(samples,)``.
        est: Estimate ``(samples,)``.
        sample_rate: Rate of both signals in Hz.
        frame_ms: Frame length in milliseconds.
        hop_ms: Hop between frames in milliseconds; half a frame by default.
        min_db: Lower clamp of each frame's SNR, in dB.
        max_db: Upper clamp of each frame's SNR, in dB.
        silence_db: Frames of the reference this far below its loudest frame (dB) are silent.

    Returns:
        Segmental SNR in dB, within ``[min_db, max_db]``.

    Raises:
        AudioError: Lengths differ, NaN/Inf samples, or an all-zero reference.
        ConfigError: ``sample_rate`` is not a positive integer.
    """
    check_rate(sample_rate)
    r, e = check_pair(ref, est)
    frame = max(1, min(r.shape[0], round(frame_ms * sample_rate / 1000.0)))
    hop = max(1, round((hop_ms if hop_ms is not None else frame_ms / 2) * sample_rate / 1000.0))
    n = 1 + (r.shape[0] - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    sig = np.sum(r[idx] ** 2, axis=1)
    err = np.sum((r[idx] - e[idx]) ** 2, axis=1)
    if sig.max() <= 0.0:
        raise AudioError("ref: all-zero reference, segmental SNR is undefined")
    keep = sig > sig.max() * 10.0 ** (silence_db / 10.0)
    per_frame = 10.0 * np.log10((sig[keep] + _EPS) / (err[keep] + _EPS))
    return float(np.mean(np.clip(per_frame, min_db, max_db)))


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio (Le Roux et al., 2019).

    Both signals are made zero-mean; ``target = <est, ref> / <ref, ref> * ref`` and
    ``SI-SDR = 10*log10(|target|**2 / |est - target|**2)``.

    Shape:
        ``ref`` and ``est``: ``(samples,)``, equal lengths.

    Returns:
        SI-SDR in dB, capped at :data:`MAX_DB` (a rescaled copy of ``ref`` gives 100 dB).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples, naming the argument.
    """
    r, e = check_pair(ref, est)
    r = r - r.mean()
    e = e - e.mean()
    alpha = float(np.dot(e, r)) / (float(np.dot(r, r)) + _EPS)
    target = alpha * r
    return _ratio_db(float(np.sum(target ** 2)), float(np.sum((e - target) ** 2)))


def band_energy_db(x: np.ndarray, sample_rate: float, low_hz: float = 0.0,
                   high_hz: float = math.inf, *, axis: int = -1) -> float:
    """Energy of ``x`` in the band ``low_hz <= f < high_hz``, dB re 1, from one FFT of the whole
    signal along ``axis`` (other axes, e.g. channels, summed). ``band_energy_db(x, sr, f) -
    band_energy_db(x, sr)`` is the share of the energy above ``f``.

    Args:
        x: Waveform, samples along ``axis``.
        sample_rate: Hz.
        low_hz, high_hz: The band's edges, Hz.
        axis: The time axis.
    """
    x = np.asarray(x, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x, axis=axis)) ** 2
    freqs = np.fft.rfftfreq(x.shape[axis], 1.0 / sample_rate)
    band = np.moveaxis(spectrum, axis, -1)[..., (freqs >= low_hz) & (freqs < high_hz)]
    return float(10.0 * math.log10(float(band.sum()) + _EPS))
