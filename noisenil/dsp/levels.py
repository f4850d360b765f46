"""Signal levels: the active RMS level of a recording and the gain that normalises it.

Inference is level-invariant (DESIGN.md, Level): the inference path measures the input's level,
scales it by a recorded gain ``g`` to :data:`REFERENCE_DBFS` before the features and applies
``1/g`` after, so ``denoise(a * x) = a * denoise(x)``. The level is the **active RMS**: the RMS
over the 20 ms frames that lie within :data:`ACTIVE_RANGE_DB` of the loudest one, so pauses do
not make a recording look quiet. Every step is homogeneous (``active_rms(a * x) = a *
active_rms(x)``), hence the invariance is exact up to float rounding.

Digital silence and near-silence (active RMS below :data:`SILENCE_DBFS`) are never amplified:
:func:`normalising_gain` returns ``None`` and the inference path passes them through unchanged.
"""

from __future__ import annotations

import numpy as np

#: Level the inference path scales every input to, in dBFS active RMS: the median active level
#: of the development corpus's clean speech (-24.2 dBFS over 300 files of
#: ``../shared/audio/dev/speech``), i.e. the level the shipped models were trained at.
REFERENCE_DBFS = -24.0
#: Inputs quieter than this (active RMS, dBFS) pass through unchanged: silence is never boosted.
SILENCE_DBFS = -80.0
#: Frames within this many dB of the loudest count as active.
ACTIVE_RANGE_DB = 40.0
#: Frame length of the level measure, in seconds.
FRAME_S = 0.02


def frame_energies(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square of consecutive 20 ms frames of ``x`` (``(samples,)`` or ``(channels,
    samples)``; channels are averaged), the last partial frame included."""
    x = np.asarray(x, dtype=np.float64)
    power = x * x if x.ndim == 1 else np.mean(x * x, axis=0)
    n = frame_samples(sample_rate)
    if power.shape[-1] == 0:
        return np.zeros(0)
    k = -(-power.shape[-1] // n)
    padded = np.zeros(k * n)
    padded[:power.shape[-1]] = power
    counts = np.full(k, n, dtype=np.float64)
    counts[-1] = power.shape[-1] - (k - 1) * n
    return padded.reshape(k, n).sum(axis=1) / counts


def active_rms(x: np.ndarray, sample_rate: int) -> float:
    """Active RMS level of ``x`` (linear, full scale 1): see the module docstring."""
    return active_rms_of(frame_energies(x, sample_rate))


def frame_samples(sample_rate: int) -> int:
    """Samples per level frame at ``sample_rate`` (blocks of a multiple of it give the frames
    of the whole signal, so a file read in blocks measures exactly as the whole array)."""
    return max(1, int(round(FRAME_S * sample_rate)))


def active_rms_of(e: np.ndarray) -> float:
    """Active RMS from frame energies (:func:`frame_energies`, possibly of consecutive blocks)."""
    e = np.asarray(e, dtype=np.float64)
    if e.size == 0 or e.max() <= 0.0:
        return 0.0
    keep = e >= e.max() * 10.0 ** (-ACTIVE_RANGE_DB / 10.0)
    return float(np.sqrt(np.mean(e[keep])))


def normalising_gain(level: float, *, reference_dbfs: float = REFERENCE_DBFS) -> float | None:
    """The gain bringing an active RMS ``level`` to ``reference_dbfs``, or ``None`` for
    silence/near-silence (below :data:`SILENCE_DBFS`), which is to be passed through."""
    if not level > 10.0 ** (SILENCE_DBFS / 20.0):
        return None
    return float(10.0 ** (reference_dbfs / 20.0) / level)
