"""Music-like clips and the noise generators of the demo corpus.

Music: melodies of slightly inharmonic partials with ADSR envelopes, vibrato and chords. Noises:
one generator per kind in ``_NOISE_FUNCS``, levelled by :func:`_noise`.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from noisenil.data.demo._dsp import (
    CLEAN_PEAK_DBFS,
    MAX_PEAK_DBFS,
    NOISE_RMS_DBFS,
    _band_sos,
    _db,
    _decay_kernel,
    _highpass,
    _impulses,
    _normalize_peak,
    _rms,
    _shaped_noise,
)
from noisenil.data.demo.speech import _make_voice, _synthesize_speech


# --------------------------------------------------------------------------------------------
# Music


def _note(rng, f0: float, length: int, sample_rate: int, instrument: str) -> np.ndarray:
    """One note of ``length`` samples (release included): partials, envelope, vibrato."""
    t = np.arange(length) / sample_rate
    k = np.arange(1, max(1, min(14, int(0.45 * sample_rate / f0))) + 1)[:, None]
    inharm = {"pluck": 3e-4, "bell": 2e-3}.get(instrument, 0.0)
    freqs = k * f0 * np.sqrt(1 + inharm * k**2)
    drift = np.ones_like(t)
    if instrument in ("bowed", "flute"):
        depth, rate = rng.uniform(0.003, 0.007), rng.uniform(4.5, 6.0)
        onset = np.clip((t - 0.15) / 0.2, 0, 1)  # vibrato starts after the attack
        drift = 1 + depth * onset * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * freqs * np.cumsum(drift)[None, :] / sample_rate
    tilt = {"pluck": 1.1, "bowed": 0.9, "flute": 2.0, "organ": 1.4, "bell": 1.2}[instrument]
    amps = k[:, 0] ** -tilt * _db(rng.normal(0.0, 2.0, k.size))
    if instrument in ("pluck", "bell"):
        decay = (2.0 if instrument == "pluck" else 0.8) + 0.6 * k  # higher partials die faster
        env = np.exp(-decay * t[None, :]) * np.minimum(1.0, t / 0.004)[None, :]
    else:  # ADSR: attack, decay to sustain, release over the last 25 %
        a, d, s = {"bowed": (0.08, 0.15, 0.7), "flute": (0.05, 0.1, 0.8),
                   "organ": (0.01, 0.05, 0.9)}[instrument]
        rel = 0.75 * t[-1]
        adsr = np.interp(t, [0, a, a + d, max(rel, a + d), t[-1] + 1e-9], [0, 1, s, s, 0])
        env = adsr[None, :] * np.ones((k.size, 1))
    partials = np.sin(phase + rng.uniform(0, 2 * np.pi, (k.size, 1)))
    fade = np.minimum(1.0, (length - np.arange(length)) / (0.01 * sample_rate))  # no click
    return np.einsum("k,kt->t", amps, env * partials) * fade


def _music_clip(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """A short melody over one or two sustained chords, -3 dBFS peak."""
    beat = 60.0 / rng.uniform(80, 140)
    root = int(rng.integers(55, 67))  # MIDI
    scale = [0, 2, 4, 5, 7, 9, 11] if rng.uniform() < 0.6 else [0, 2, 3, 5, 7, 8, 10]
    lead = ("pluck", "bowed", "flute", "organ", "bell")[rng.integers(5)]
    hz = lambda midi: 440.0 * 2 ** ((midi - 69) / 12)  # noqa: E731
    out = np.zeros(n + sample_rate)
    pos, degree = int(rng.uniform(0.0, 0.15) * sample_rate), int(rng.integers(0, 5))
    while pos < n:
        dur = beat * rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2, 3]), -3, 10))
        midi = root + 12 * (degree // 7) + scale[degree % 7]
        length = int((dur * 1.3) * sample_rate)
        note = _note(rng, hz(midi), length, sample_rate, lead)
        out[pos:pos + length] += note[: out.size - pos]
        pos += int(dur * sample_rate)
    pad = ("organ", "bowed")[rng.integers(2)]
    chords = rng.choice([0, 3, 4, 5], size=int(rng.integers(1, 3)), replace=False)
    for j, degree in enumerate(chords):
        start = j * n // len(chords)
        length = n - start if j == len(chords) - 1 else int(1.15 * n / len(chords))
        for step in (0, 2, 4):  # a triad one octave down
            d = int(degree) + step
            midi = root - 12 + 12 * (d // 7) + scale[d % 7]
            out[start:start + length] += 0.2 * _note(rng, hz(midi), length, sample_rate, pad)
    fade = np.minimum(1.0, (n - np.arange(n)) / (0.05 * sample_rate))
    return _normalize_peak(out[:n] * fade, CLEAN_PEAK_DBFS)


# --------------------------------------------------------------------------------------------
# Noises: one generator per kind, (rng, samples, rate) -> float64 at -23 dBFS RMS


def _white(rng, n, sr):
    return rng.standard_normal(n)


def _pink(rng, n, sr):
    return _shaped_noise(rng, n, sr, lambda f: 1.0 / np.sqrt(np.maximum(f, 1.0)))


def _brown(rng, n, sr):
    return _shaped_noise(rng, n, sr, lambda f: 1.0 / np.maximum(f, 20.0))


def _hum(rng, n, sr):
    """50 Hz mains: a wandering fundamental, strong 100 Hz and odd harmonics, a little hiss."""
    t = np.arange(n) / sr
    knots = rng.standard_normal(int(t[-1]) + 2)  # one per second
    f = 50.0 * (1 + 0.0005 * np.interp(t, np.arange(knots.size), knots))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = np.zeros(n)
    for k in range(1, min(20, int(0.45 * sr / 50)) + 1):
        amp = (1.2 if k == 2 else (0.7 if k % 2 else 0.3) / k**0.8) * _db(rng.normal(0, 2))
        x += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return x + _db(-35) * _rms(x) * rng.standard_normal(n)


def _babble(rng, n, sr):
    """4-6 talkers (new random voices) with few pauses, levels within +-3 dB."""
    x = np.zeros(n)
    for _ in range(int(rng.integers(4, 7))):
        voice = _make_voice(rng)
        talk = _synthesize_speech(rng, voice, n, sr, pause_scale=0.35)
        x += np.roll(talk, int(rng.integers(n))) * _db(rng.uniform(-3, 3)) / (_rms(talk) + 1e-12)
    return x


def _fan(rng, n, sr):
    """Low-passed broadband noise with a body resonance, blade-pass tones, slow modulation."""
    t = np.arange(n) / sr
    fc, fh, wh = rng.uniform(700, 1800), rng.uniform(150, 450), rng.uniform(60, 150)
    body = _shaped_noise(rng, n, sr, lambda f: (1 + (f / fc) ** 2) ** -0.75
                         * (1 + 2.5 * np.exp(-0.5 * ((f - fh) / wh) ** 2)))
    body /= _rms(body)
    body *= 1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 0.7) * t + rng.uniform(0, 6.3))
    blade = rng.uniform(80, 200)
    wobble = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t)
    phase = 2 * np.pi * blade * np.cumsum(wobble) / sr
    tones = sum(np.sin(k * phase + rng.uniform(0, 6.3)) / k for k in range(1, 6))
    tones = tones * 0.35 / _rms(tones) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1) * t))
    whine = 0.05 * np.sin(2 * np.pi * min(rng.uniform(1000, 2500), 0.4 * sr) * t)
    return body + tones + whine


def _vinyl(rng, n, sr):
    """Hiss, random clicks and surface crackle, a click every 0.77 s revolution, low rumble."""
    hiss = 0.5 * _highpass(rng.standard_normal(n), 1500.0, sr, order=2)
    rumble = signal.sosfilt(_band_sos(0, 35.0, sr, 2, "lowpass"), rng.standard_normal(n))
    rumble *= 0.6 / (_rms(rumble) + 1e-12)
    clicks = _impulses(rng, n, rng.uniform(1.5, 4.0), sr) * 10 + _impulses(rng, n, 40.0, sr) * 2
    period, start = int(0.77 * sr), int(rng.integers(8, int(0.77 * sr)))
    shape = rng.uniform(15, 22) * np.array([1.0, -0.6, 0.4]) * rng.choice([-1, 1])
    for pos in range(start, n - 3 * 40, period):  # the same scratch on every revolution
        jitter = int(rng.integers(-8, 9))
        clicks[pos + jitter:pos + jitter + 3 * 40:40] += shape * rng.uniform(0.9, 1.1)
    clicks = _highpass(np.convolve(clicks, _decay_kernel(rng, 0.0003, sr))[:n], 300.0, sr, 2)
    return hiss + rumble + clicks


def _rain(rng, n, sr):
    """Thousands of small drops per second (damped ticks of three sizes), high-passed."""
    t = np.arange(int(0.008 * sr)) / sr
    drops = np.zeros(n)
    for tau, freq, rate in ((0.0015, 1500.0, 300.0), (0.0008, 3000.0, 800.0),
                            (0.0004, 5000.0, 2000.0)):
        freq = min(freq, 0.4 * sr) * rng.uniform(0.8, 1.25)
        tick = np.exp(-t / tau) * np.cos(2 * np.pi * freq * t)
        hits = _impulses(rng, n, rate * rng.uniform(0.7, 1.4), sr, tail=4.0)
        drops += signal.fftconvolve(hits, tick)[:n]
    bed = 0.3 * _rms(drops) * rng.standard_normal(n)
    return _highpass(drops + bed, rng.uniform(700, 1200), sr)


_NOISE_FUNCS = {"white": _white, "pink": _pink, "brown": _brown, "hum": _hum,
                "babble": _babble, "fan": _fan, "vinyl": _vinyl, "rain": _rain}


def _noise(kind: str, rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Noise of ``kind`` at -23 dBFS RMS, scaled down further if its peak exceeds -1 dBFS."""
    x = _NOISE_FUNCS[kind](rng, n, sample_rate)
    x = x * (_db(NOISE_RMS_DBFS) / (_rms(x) + 1e-12))
    peak = np.max(np.abs(x))
    return x * (_db(MAX_PEAK_DBFS) / peak) if peak > _db(MAX_PEAK_DBFS) else x
