"""Mixing clean signals with noise at a target SNR and level (seed 001, equation 1).

``X = beta * (Y + alpha * N)``: ``alpha`` scales the noise so that the clean-to-noise power ratio
is the drawn SNR; ``beta`` scales mixture and target alike (the target is ``beta * Y``). Both are
drawn uniformly in dB (log-uniform in amplitude) from configured ranges, by default SNR 2-20 dB
and beta -6..+4 dB as in seed 001.

Powers are mean squares of float signals in [-1, 1]; dB values are ``10*log10`` of power ratios.
"""

from __future__ import annotations

import numpy as np

from noisenil.errors import AudioError

_EPS = 1e-20


def power(x: np.ndarray) -> float:
    """Mean-square power of a signal."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x)) if x.size else 0.0


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """SNR in dB of ``clean`` against ``noise`` (``10*log10(P_clean / P_noise)``)."""
    return 10.0 * np.log10((power(clean) + _EPS) / (power(noise) + _EPS))


def draw_db(rng: np.random.Generator, low_high: list[float] | tuple[float, float]) -> float:
    """A value drawn uniformly in dB between ``low`` and ``high``."""
    low, high = low_high
    return float(rng.uniform(low, high)) if high > low else float(low)


def loop_to_length(noise: np.ndarray, length: int, *, crossfade: int = 0,
                   offset: int = 0) -> np.ndarray:
    """Repeat ``noise`` until it is ``length`` samples long, cross-fading each seam.

    The cross-fade is equal-power (sine/cosine), which keeps the level of uncorrelated noise
    steady across seams. ``offset`` starts the result that many samples into the loop.

    Args:
        noise: ``(samples,)``.
        length: Wanted length in samples.
        crossfade: Seam length in samples (clipped to half the noise length).
        offset: Start position within the looped noise.

    Returns:
        float32 ``(length,)``.
    """
    noise = np.asarray(noise, dtype=np.float32)
    n = noise.shape[0]
    if n == 0:
        raise AudioError("cannot loop an empty noise signal")
    if n >= length:
        start = offset % (n - length + 1)
        return noise[start:start + length].copy()
    # Each repetition after the first overlaps the previous one by `fade` samples.
    fade = int(min(max(crossfade, 0), n // 2))
    period = n - fade
    start = offset % period
    reps = 1 + int(np.ceil(max(start + length - n, 0) / period))
    out = np.zeros(period * (reps - 1) + n, dtype=np.float32)
    t = (np.arange(fade) + 0.5) / max(fade, 1)
    fade_in = np.sin(0.5 * np.pi * t).astype(np.float32)
    fade_out = np.cos(0.5 * np.pi * t).astype(np.float32)
    for r in range(reps):
        seg = noise.copy()
        if r > 0:
            seg[:fade] *= fade_in
        if r < reps - 1:
            seg[n - fade:] *= fade_out
        out[r * period:r * period + n] += seg
    return out[start:start + length]


def mix(clean: np.ndarray, noise: np.ndarray, *, snr: float, level_db: float = 0.0,
        clean_power: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mix at an exact SNR: ``X = beta * (Y + alpha * N)``.

    Args:
        clean: ``Y``, ``(samples,)``.
        noise: ``N``, same length as ``clean``.
        snr: Target SNR in dB of ``Y`` against ``alpha * N``.
        level_db: ``beta`` in dB, applied to mixture and target.
        clean_power: Power that defines the SNR; defaults to ``power(clean)``. Pass a file's
            active-speech power to mix a mostly silent segment at a realistic level.

    Returns:
        ``(noisy, target)``: ``beta * (Y + alpha * N)`` and ``beta * Y``, float32.

    Raises:
        AudioError: Lengths differ, or the clean or noise signal is silent.
    """
    clean = np.asarray(clean, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if clean.shape != noise.shape:
        raise AudioError(f"clean {clean.shape} and noise {noise.shape} must have the same shape")
    p_clean = power(clean) if clean_power is None else float(clean_power)
    p_noise = power(noise)
    if p_clean <= _EPS:
        raise AudioError("cannot mix at an SNR: the clean signal is silent")
    if p_noise <= _EPS:
        raise AudioError("cannot mix at an SNR: the noise signal is silent")
    alpha = np.sqrt(p_clean / (p_noise * 10.0 ** (snr / 10.0)))
    beta = 10.0 ** (level_db / 20.0)
    target = (beta * clean).astype(np.float32)
    noisy = (beta * (clean + alpha * noise)).astype(np.float32)
    return noisy, target


def active_power(x: np.ndarray, *, frame: int = 1024, top_db: float = 40.0) -> float:
    """Power over the frames within ``top_db`` of the loudest frame (speech-active power).

    Used as the SNR reference so a segment that falls in a pause is mixed at the level the
    file's speech would be, not amplified noise over silence.
    """
    x = np.asarray(x, dtype=np.float64)
    n = max(1, x.shape[0] // frame)
    frames = x[: n * frame].reshape(n, -1) if x.shape[0] >= frame else x[None, :]
    p = np.mean(frames * frames, axis=1)
    keep = p >= p.max() * 10.0 ** (-top_db / 10.0)
    return float(np.mean(p[keep])) if p.max() > 0 else 0.0


def trim_silence(x: np.ndarray, *, top_db: float = 40.0, frame: int = 1024,
                 hop: int = 256) -> np.ndarray:
    """Remove stretches quieter than ``top_db`` below the peak (librosa's ``effects.split``)."""
    import librosa

    intervals = librosa.effects.split(np.asarray(x, dtype=np.float32), top_db=top_db,
                                      frame_length=frame, hop_length=hop)
    if len(intervals) == 0:
        return np.asarray(x, dtype=np.float32)
    return np.concatenate([x[a:b] for a, b in intervals]).astype(np.float32)
