"""Waveform augmentations used to build training examples.

A training example is ``noisy = beta * (clean_aug + alpha * noise_aug)`` with target
``beta * clean_aug``; input-only distortions are then applied to ``noisy``. Augmentations therefore
run in three groups:

* ``clean``: applied to the clean signal, so the target sees them too (time shift, room reverb,
  band limit of the source). Anything here is *kept* by the trained model.
* ``noise``: applied to the noise track before mixing. This is where synthetic degradations
  (coloured noise, hiss, clicks, thumps, rumble, 78-rpm periodicity) are added.
* ``mixture``: applied to the network input only, after mixing; the model learns to undo them.

This module holds the signal functions (and :func:`load_ir`, which reads impulse-response files).
The schema (names, parameters, ranges, allowed groups, defaults, ``validate_group``) lives in
:mod:`noisenil.config.augment_schema`, so configurations validate without this module; the
registry :data:`~noisenil.data.augmenter.AUGMENTATIONS`, which pairs each schema entry with its
functions, and the :class:`~noisenil.data.augmenter.Augmenter` that applies a group spec live in
:mod:`noisenil.data.augmenter`.

Each augmentation is split in two: ``draw_<name>(rng, **spec) -> dict`` draws concrete parameters
from the configured ``[low, high]`` ranges, and ``<name>(x, sr, rng, **concrete)`` applies them.
Given concrete parameters the result is fixed except for random *content* (noise samples, event
times) taken from ``rng``, so properties can be tested with known values.

Conventions: audio is 1-D float32 mono at sample rate ``sr`` (Hz), nominally in [-1, 1]; dBFS is the
RMS level relative to full scale 1.0. Every function returns a new float32 array of the input's
length and never modifies its input.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import numpy as np
import scipy.fft
import scipy.signal

from noisenil.config.augment_schema import COLORS, list_ir_files
from noisenil.config.validate import choice, number
from noisenil.data.mixing import power as _power
from noisenil.errors import AudioError, ConfigError

logger = logging.getLogger(__name__)

_COLOR_EXPONENT = {"white": 0.0, "pink": 0.5, "brown": 1.0}  # amplitude spectrum ~ f ** -exponent
_COLOR_FLAT_BELOW_HZ = 20.0  # pink/brown are flat below this: no power spent on inaudible drift
_HISS_CORNER_HZ = 2000.0
_CLICK_DECAY = 5.0  # click envelope exp(-5 k / width): about -43 dB at the end of the burst
_THUMP_LENGTH_TAU = 7.0  # thumps are cut after 7 time constants (-61 dB)
_PERIODICITY_CLICK_MS = 1.0


# --------------------------------------------------------------------------------------- helpers
def _audio(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"audio must be a 1-D mono array, got shape {x.shape}")
    return x


def _scale_to_rms(y: np.ndarray, rms: float) -> np.ndarray:
    current = math.sqrt(_power(y))
    return y * (rms / current) if current > 0 else y


def _uniform(rng: np.random.Generator, bounds, size=None):
    value = rng.uniform(bounds[0], bounds[1], size)
    return value if size is not None else float(value)


def _loguniform(rng: np.random.Generator, bounds, size=None):
    return np.exp(_uniform(rng, (math.log(bounds[0]), math.log(bounds[1])), size))


def _round_in(value: float, bounds) -> float:
    """``value`` to 3 significant digits (so filter designs are cached), kept inside ``bounds``."""
    return min(max(float(f"{value:.3g}"), bounds[0]), bounds[1])


def _event_count(rng: np.random.Generator, rate_hz: float, n: int, sr: float) -> int:
    """Poisson count for ``n`` samples, at least 1 so ``p`` is the share of affected examples."""
    return max(1, int(rng.poisson(rate_hz * n / sr)))


def _add_events(y: np.ndarray, starts: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Adds row ``i`` of ``kernels`` at ``y[starts[i]:]`` in place, cut at the end of ``y``."""
    idx = np.asarray(starts)[:, None] + np.arange(kernels.shape[1])
    keep = (idx < len(y)) & (kernels != 0)
    np.add.at(y, idx[keep], kernels[keep])
    return y


def _burst(rng: np.random.Generator, widths: np.ndarray) -> np.ndarray:
    """Random-sign bursts, peak 1 at sample 0, decaying exponentially over ``widths`` samples."""
    k = np.arange(int(widths.max()))
    w = widths[:, None]
    return rng.choice([-1.0, 1.0], size=(len(widths), len(k))) * np.where(
        k < w, np.exp(-_CLICK_DECAY * k / w), 0.0
    )


@functools.lru_cache(maxsize=4096)
def _butter_sos(cutoff_hz: float, sr: float, order: int, btype: str = "lowpass") -> np.ndarray:
    number("cutoff_hz", cutoff_hz, lo=0.0, hi=sr / 2, lo_open=True, hi_open=True, unit=" Hz",
           hi_label=f"sr/2 = {sr / 2:g}")
    return scipy.signal.butter(order, cutoff_hz, btype=btype, fs=sr, output="sos")


def _filtered_noise(n: int, sr: float, rng, cutoff_hz: float, btype: str, order: int) -> np.ndarray:
    """White noise through a causal Butterworth filter, its start-up transient discarded."""
    warm = min(int(4 * sr / cutoff_hz), int(4 * sr))
    noise = rng.standard_normal(n + warm)
    return scipy.signal.sosfilt(_butter_sos(cutoff_hz, sr, order, btype), noise)[warm:]


def _colored(n: int, color: str, sr: float, rng: np.random.Generator) -> np.ndarray:
    choice("color", color, COLORS)
    if color == "white" or n < 2:
        return rng.standard_normal(n)
    m = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(rng.standard_normal(m))
    freqs = np.maximum(np.fft.rfftfreq(m, 1.0 / sr), _COLOR_FLAT_BELOW_HZ)
    spectrum *= freqs ** -_COLOR_EXPONENT[color]
    spectrum[0] = 0.0
    return scipy.fft.irfft(spectrum, m)[:n]


# ---------------------------------------------------------------------------- augmentations
def volume(x, sr: float, rng: np.random.Generator, *, gain_db: float) -> np.ndarray:
    """Multiplies by ``gain_db`` dB (the RMS level changes by exactly that much)."""
    return (_audio(x) * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def draw_volume(rng: np.random.Generator, *, gain_db) -> dict:
    """``gain_db`` (dB) uniform in ``[low, high]``."""
    return {"gain_db": _uniform(rng, gain_db)}


def time_shift(x, sr: float, rng: np.random.Generator, *, fraction: float) -> np.ndarray:
    """Circular shift by ``round(fraction * len(x))`` samples (positive: later)."""
    x = _audio(x)
    return np.roll(x, int(round(fraction * len(x))))


def draw_time_shift(rng: np.random.Generator, *, max_fraction: float) -> dict:
    """``fraction`` of the length uniform in ``[-max_fraction, max_fraction]``."""
    return {"fraction": _uniform(rng, (-max_fraction, max_fraction))}


def synthetic_ir(rt60_s: float, sr: float, rng: np.random.Generator, *, predelay_ms: float = 0.0):
    """Room impulse response: Gaussian noise whose energy decays 60 dB in ``rt60_s`` seconds.

    Returns a float32 IR of ``round(predelay_ms * sr / 1000)`` zeros followed by ``rt60_s * sr``
    samples of decaying noise, normalised to unit energy.
    """
    n_tail = max(1, int(round(rt60_s * sr)))
    decay = 3.0 * math.log(10.0) / (rt60_s * sr)  # amplitude e^(-decay k): energy -60 dB at rt60
    tail = rng.standard_normal(n_tail) * np.exp(-decay * np.arange(n_tail))
    ir = np.concatenate([np.zeros(int(round(predelay_ms * sr / 1000.0))), tail])
    return (ir / math.sqrt(np.sum(tail**2))).astype(np.float32)


_ir_files = functools.lru_cache(maxsize=64)(list_ir_files)  # validation lists afresh


@functools.lru_cache(maxsize=256)
def load_ir(path: str, sr: int) -> np.ndarray:
    """An IR file as mono float32 at ``sr`` Hz, starting at its peak, unit energy (cached)."""
    import soundfile
    import soxr

    data, file_sr = soundfile.read(path, dtype="float32", always_2d=True)
    ir = data.mean(axis=1)
    if file_sr != sr:
        ir = soxr.resample(ir, file_sr, sr)
    ir = np.asarray(ir[int(np.argmax(np.abs(ir))) :], dtype=np.float64) if ir.size else ir
    energy = float(np.sum(ir**2))
    if not energy > 0 or not math.isfinite(energy):
        raise AudioError(f"impulse response {path} is empty, silent or not finite", path=path)
    logger.debug("loaded impulse response %s (%d samples at %d Hz)", path, ir.size, sr)
    ir = (ir / math.sqrt(energy)).astype(np.float32)
    ir.flags.writeable = False
    return ir


def reverb(x, sr: float, rng: np.random.Generator, *, wet: float, rt60_s: float | None = None,
           predelay_ms: float = 0.0, ir_path: str | None = None) -> np.ndarray:
    """Convolves with a synthetic IR (``rt60_s`` s, ``predelay_ms`` ms) or the IR file ``ir_path``.

    The reverberant signal is mixed ``(1 - wet) * dry + wet * reverberant`` (both at the input RMS),
    the tail beyond the input length is dropped and the result is scaled back to the input RMS.
    """
    x = _audio(x)
    if ir_path is not None:
        ir = load_ir(str(ir_path), int(sr))
    elif rt60_s is not None:
        ir = synthetic_ir(rt60_s, sr, rng, predelay_ms=predelay_ms)
    else:
        raise ConfigError("reverb needs rt60_s or ir_path", key="augment.reverb")
    rms = math.sqrt(_power(x))
    if rms == 0:
        return x.copy()
    wet_signal = _scale_to_rms(scipy.signal.fftconvolve(x, ir[: len(x)])[: len(x)], rms)
    return _scale_to_rms((1.0 - wet) * x + wet * wet_signal, rms).astype(np.float32)


def draw_reverb(rng: np.random.Generator, *, rt60_s, predelay_ms, wet, ir_dir=None) -> dict:
    """``rt60_s`` log-uniform, ``predelay_ms``, ``wet`` uniform; with ``ir_dir``, a random file."""
    if ir_dir is not None:
        files = _ir_files(str(ir_dir))
        return {"ir_path": files[int(rng.integers(len(files)))], "wet": _uniform(rng, wet)}
    return {"rt60_s": float(_loguniform(rng, rt60_s)), "predelay_ms": _uniform(rng, predelay_ms),
            "wet": _uniform(rng, wet)}


def lowpass(x, sr: float, rng: np.random.Generator, *, cutoff_hz: float, order: int) -> np.ndarray:
    """Zero-phase Butterworth low-pass (forward-backward: twice the dB attenuation of ``order``)."""
    x = _audio(x)
    sos = _butter_sos(float(cutoff_hz), sr, int(order))
    if len(x) < 2:
        return x.copy()
    padlen = min(3 * (2 * len(sos) + 1), len(x) - 1)
    return scipy.signal.sosfiltfilt(sos, x, padlen=padlen).astype(np.float32)


def draw_lowpass(rng: np.random.Generator, *, cutoff_hz, order) -> dict:
    """``cutoff_hz`` (Hz) log-uniform, 3 significant digits; ``order`` an integer in the range."""
    cutoff = _round_in(float(_loguniform(rng, cutoff_hz)), cutoff_hz)
    return {"cutoff_hz": cutoff, "order": int(rng.integers(order[0], order[1] + 1))}


def clipping(x, sr: float, rng: np.random.Generator, *, threshold: float) -> np.ndarray:
    """Hard clip at ``threshold`` times the input's peak magnitude (so it works at any level)."""
    x = _audio(x)
    limit = threshold * float(np.max(np.abs(x))) if x.size else 0.0
    return np.clip(x, -limit, limit).astype(np.float32)


def draw_clipping(rng: np.random.Generator, *, threshold) -> dict:
    """``threshold`` (fraction of the peak) uniform."""
    return {"threshold": _uniform(rng, threshold)}


def colored_noise(x, sr: float, rng: np.random.Generator, *, snr_db: float, color: str,
                  floor_db: float = -50.0) -> np.ndarray:
    """Adds white, pink (-3 dB/octave) or brown (-6 dB/octave) noise at ``snr_db`` dB below x.

    The SNR is relative to the power of the whole of ``x``; an all-zero ``x`` gets the noise at
    ``floor_db`` dBFS instead. Pink and brown spectra are flat below 20 Hz.
    """
    x = _audio(x)
    px = _power(x)
    level = math.sqrt(px / 10.0 ** (snr_db / 10.0)) if px > 1e-20 else 10.0 ** (floor_db / 20.0)
    return (x + _scale_to_rms(_colored(len(x), color, sr, rng), level)).astype(np.float32)


def draw_colored_noise(rng: np.random.Generator, *, snr_db, colors, floor_db) -> dict:
    """``snr_db`` (dB) uniform; ``color`` uniformly among ``colors``; ``floor_db`` passed on."""
    return {"snr_db": _uniform(rng, snr_db), "color": str(colors[int(rng.integers(len(colors)))]),
            "floor_db": float(floor_db)}


def hiss(x, sr: float, rng: np.random.Generator, *, level_db: float) -> np.ndarray:
    """Adds white noise high-passed at 2 kHz (2nd order, 12 dB/octave) at ``level_db`` dBFS RMS."""
    x = _audio(x)
    noise = _filtered_noise(len(x), sr, rng, min(_HISS_CORNER_HZ, sr / 4), "highpass", 2)
    return (x + _scale_to_rms(noise, 10.0 ** (level_db / 20.0))).astype(np.float32)


def draw_hiss(rng: np.random.Generator, *, level_db) -> dict:
    """``level_db`` (dBFS) uniform."""
    return {"level_db": _uniform(rng, level_db)}


def clicks(x, sr: float, rng: np.random.Generator, *, rate_hz: float, width_ms, amplitude):
    """Adds ``max(1, Poisson(rate_hz * duration))`` clicks at uniform random times.

    Each click is a burst of random-sign samples with an exponentially decaying envelope; its
    width (ms) and peak amplitude (full scale 1.0, reached at the first sample) are drawn
    log-uniformly per click from the ``width_ms`` and ``amplitude`` ranges. Samples outside the
    bursts are unchanged.
    """
    y = _audio(x).copy()
    if not y.size:
        return y
    count = _event_count(rng, rate_hz, len(y), sr)
    widths = np.maximum(1, np.round(_loguniform(rng, width_ms, count) * sr / 1000.0)).astype(int)
    kernels = _loguniform(rng, amplitude, count)[:, None] * _burst(rng, widths)
    return _add_events(y, rng.integers(0, len(y), count), kernels)


def draw_clicks(rng: np.random.Generator, *, rate_hz, width_ms, amplitude) -> dict:
    """``rate_hz`` (events/s) log-uniform; the per-click ranges are passed on."""
    return {"rate_hz": float(_loguniform(rng, rate_hz)), "width_ms": list(width_ms),
            "amplitude": list(amplitude)}


def thumps(x, sr: float, rng: np.random.Generator, *, rate_hz: float, freq_hz, decay_ms, amplitude):
    """Adds ``max(1, Poisson(rate_hz * duration))`` damped sinusoids (low-frequency thumps).

    Each thump is ``a * exp(-t / tau) * sin(2 pi f t)`` with ``f`` (Hz), ``tau`` (ms, the amplitude
    time constant) and ``a`` (full scale 1.0) drawn log-uniformly per event from the ranges.
    """
    y = _audio(x).copy()
    if not y.size:
        return y
    count = _event_count(rng, rate_hz, len(y), sr)
    freqs = _loguniform(rng, freq_hz, count)[:, None]
    taus = _loguniform(rng, decay_ms, count)[:, None] / 1000.0
    amps = _loguniform(rng, amplitude, count)[:, None]
    t = np.arange(min(len(y), int(math.ceil(_THUMP_LENGTH_TAU * taus.max() * sr)))) / sr
    envelope = np.where(t < _THUMP_LENGTH_TAU * taus, np.exp(-t / taus), 0.0)
    kernels = amps * envelope * np.sin(2 * np.pi * freqs * t)
    return _add_events(y, rng.integers(0, len(y), count), kernels)


def draw_thumps(rng: np.random.Generator, *, rate_hz, freq_hz, decay_ms, amplitude) -> dict:
    """``rate_hz`` (events/s) log-uniform; the per-thump ranges are passed on."""
    return {"rate_hz": float(_loguniform(rng, rate_hz)), "freq_hz": list(freq_hz),
            "decay_ms": list(decay_ms), "amplitude": list(amplitude)}


def rumble(x, sr: float, rng: np.random.Generator, *, cutoff_hz: float, level_db: float):
    """Adds white noise low-passed at ``cutoff_hz`` Hz (4th order) at ``level_db`` dBFS RMS."""
    x = _audio(x)
    noise = _filtered_noise(len(x), sr, rng, cutoff_hz, "lowpass", 4)
    return (x + _scale_to_rms(noise, 10.0 ** (level_db / 20.0))).astype(np.float32)


def draw_rumble(rng: np.random.Generator, *, cutoff_hz, level_db) -> dict:
    """``cutoff_hz`` (Hz) log-uniform, 3 significant digits; ``level_db`` (dBFS) uniform."""
    return {"cutoff_hz": _round_in(float(_loguniform(rng, cutoff_hz)), cutoff_hz),
            "level_db": _uniform(rng, level_db)}


def periodicity(x, sr: float, rng: np.random.Generator, *, period_s: float, depth: float,
                phase: float = 0.0, click_amplitude: float = 0.0) -> np.ndarray:
    """Once-per-revolution disc periodicity (78 rpm: about 0.77 s).

    Multiplies by ``1 - depth * (1 + cos(2 pi (t / period_s - phase))) / 2`` (gain between
    ``1 - depth`` and 1) and, if ``click_amplitude`` > 0, adds the same 1 ms click (peak
    ``click_amplitude``, full scale 1.0) at ``t = (phase + k) * period_s``, where the gain is
    lowest.
    """
    x = _audio(x)
    t = np.arange(len(x)) / sr
    gain = 1.0 - 0.5 * depth * (1.0 + np.cos(2 * np.pi * (t / period_s - phase)))
    y = (x * gain).astype(np.float32)
    if click_amplitude > 0 and y.size:
        starts = np.arange(phase * period_s * sr, len(y), period_s * sr).astype(int)
        width = np.array([max(1, int(round(_PERIODICITY_CLICK_MS * sr / 1000.0)))])
        kernel = click_amplitude * _burst(rng, width)
        _add_events(y, starts, np.repeat(kernel, len(starts), axis=0))
    return y


def draw_periodicity(rng: np.random.Generator, *, period_s, depth, click_amplitude) -> dict:
    """``period_s`` (s), ``depth`` and ``click_amplitude`` uniform; ``phase`` uniform in [0, 1)."""
    return {"period_s": _uniform(rng, period_s), "depth": _uniform(rng, depth),
            "phase": float(rng.uniform()), "click_amplitude": _uniform(rng, click_amplitude)}
