"""Shared level conventions and small signal helpers of the demo-corpus generator.

Levels are in dBFS with full scale 1.0. The ``_K_*`` kind indices name the per-file random
generators, ``np.random.default_rng([seed, kind, index])``.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

CLEAN_PEAK_DBFS = -3.0
NOISE_RMS_DBFS = -23.0
MAX_PEAK_DBFS = -1.0
_ROOM_TONE_DBFS = -78.0  # RMS of the white floor under clean clips, so silence is not all zeros
# Kind indices of the per-file generators: default_rng([seed, kind, index]).
_K_VOICE, _K_SPEECH, _K_MUSIC, _K_NOISE, _K_PAIR_CLEAN, _K_PAIR_NOISE = range(6)


# --------------------------------------------------------------------------------------------
# Small signal helpers


def _db(x: float) -> float:
    return 10.0 ** (x / 20.0)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` items along the last axis, same length."""
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    pad = [(0, 0)] * (x.ndim - 1) + [(width // 2, width - 1 - width // 2)]
    xp = np.pad(x, pad, mode="edge")
    return np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), -1, xp)


@functools.lru_cache(maxsize=64)
def _band_sos(low: float, high: float, sample_rate: int, order: int = 4,
              kind: str = "bandpass") -> np.ndarray:
    """Butterworth SOS: band ``low``..``high`` Hz, ``kind="lowpass"`` (at ``high``) or
    ``"highpass"`` (at ``low``); edges are pulled below Nyquist for low sample rates."""
    high = min(high, 0.47 * sample_rate)
    low = min(low, 0.6 * high)
    edges = {"lowpass": high, "highpass": low}.get(kind, [low, high])
    return signal.butter(order, edges, btype=kind, fs=sample_rate, output="sos")


def _highpass(x: np.ndarray, cutoff: float, sample_rate: int, order: int = 4) -> np.ndarray:
    return signal.sosfilt(_band_sos(cutoff, sample_rate, sample_rate, order, "highpass"), x)


def _shaped_noise(rng: np.random.Generator, n: int, sample_rate: int, gain) -> np.ndarray:
    """White Gaussian noise whose spectrum is multiplied by ``gain(f_hz)`` (circular FFT)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spec *= gain(f)
    spec[0] = 0.0
    return np.fft.irfft(spec, n)


def _impulses(rng: np.random.Generator, n: int, rate: float, sample_rate: int,
              tail: float = 2.5) -> np.ndarray:
    """Poisson-timed impulses (``rate`` per second) with Pareto amplitudes (smaller ``tail``:
    more big ones) and random signs."""
    out = np.zeros(n)
    count = rng.poisson(rate * n / sample_rate)
    pos = rng.integers(0, n, count)
    amp = (rng.pareto(tail, count) + 0.2) * rng.choice([-1.0, 1.0], count)
    np.add.at(out, pos, amp)
    return out


def _decay_kernel(rng: np.random.Generator, tau_s: float, sample_rate: int) -> np.ndarray:
    t = np.arange(max(2, int(6 * tau_s * sample_rate))) / sample_rate
    return np.exp(-t / tau_s) * rng.standard_normal(t.size)



def _normalize_peak(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    peak = np.max(np.abs(x)) if x.size else 0.0
    return x * (_db(peak_dbfs) / peak) if peak > 0 else x
