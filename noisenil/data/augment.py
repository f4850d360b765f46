"""Waveform augmentations used to build training examples.

A training example is ``noisy = beta * (clean_aug + alpha * noise_aug)`` with target
``beta * clean_aug``; input-only distortions are then applied to ``noisy``. Augmentations therefore
run in three groups:

* ``clean``: applied to the clean signal, so the target sees them too (time shift, room reverb,
  band limit of the source). Anything here is *kept* by the trained model.
* ``noise``: applied to the noise track before mixing. This is where synthetic degradations
  (coloured noise, hiss, clicks, thumps, rumble, 78-rpm periodicity) are added.
* ``mixture``: applied to the network input only, after mixing; the model learns to undo them.

Allowed groups (``Augmentation.groups``): ``volume`` everywhere; ``time_shift`` and ``reverb`` in
``clean`` and ``noise`` only (shifting the mixture would misalign input and target, reverberating it
would turn the task into dereverberation); ``lowpass`` everywhere (in ``mixture`` it asks the model
for bandwidth extension, so it is off by default); the additive degradations (``colored_noise``,
``hiss``, ``clicks``, ``thumps``, ``rumble``, ``periodicity``) in ``noise`` and ``mixture``;
``clipping`` in ``mixture`` only.

Each augmentation is split in two: ``draw_<name>(rng, **spec) -> dict`` draws concrete parameters
from the configured ``[low, high]`` ranges, and ``<name>(x, sr, rng, **concrete)`` applies them.
Given concrete parameters the result is fixed except for random *content* (noise samples, event
times) taken from ``rng``, so properties can be tested with known values. :class:`Augmenter`
applies a validated group spec in registry order, each augmentation with its probability ``p``;
a spec lists the augmentations to run (unlisted ones are off), ``DEFAULT_GROUPS`` lists them all.

Conventions: audio is 1-D float32 mono at sample rate ``sr`` (Hz), nominally in [-1, 1]; dBFS is the
RMS level relative to full scale 1.0. Every function returns a new float32 array of the input's
length and never modifies its input.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft
import scipy.signal

from noisenil.errors import AudioError, ConfigError
from noisenil.data.mixing import power as _power

logger = logging.getLogger(__name__)

GROUPS = ("clean", "noise", "mixture")
COLORS = ("white", "pink", "brown")
_COLOR_EXPONENT = {"white": 0.0, "pink": 0.5, "brown": 1.0}  # amplitude spectrum ~ f ** -exponent
_COLOR_FLAT_BELOW_HZ = 20.0  # pink/brown are flat below this: no power spent on inaudible drift
_HISS_CORNER_HZ = 2000.0
_CLICK_DECAY = 5.0  # click envelope exp(-5 k / width): about -43 dB at the end of the burst
_THUMP_LENGTH_TAU = 7.0  # thumps are cut after 7 time constants (-61 dB)
_PERIODICITY_CLICK_MS = 1.0
_IR_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff")


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
    if not 0 < cutoff_hz < sr / 2:
        raise ConfigError(f"cutoff_hz={cutoff_hz:g} Hz must lie in (0, sr/2 = {sr / 2:g} Hz)")
    return scipy.signal.butter(order, cutoff_hz, btype=btype, fs=sr, output="sos")


def _filtered_noise(n: int, sr: float, rng, cutoff_hz: float, btype: str, order: int) -> np.ndarray:
    """White noise through a causal Butterworth filter, its start-up transient discarded."""
    warm = min(int(4 * sr / cutoff_hz), int(4 * sr))
    noise = rng.standard_normal(n + warm)
    return scipy.signal.sosfilt(_butter_sos(cutoff_hz, sr, order, btype), noise)[warm:]


def _colored(n: int, color: str, sr: float, rng: np.random.Generator) -> np.ndarray:
    if color not in COLORS:
        raise ConfigError(f"color={color!r}: must be one of {', '.join(COLORS)}")
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


def _list_ir_files(ir_dir: str) -> tuple[str, ...]:
    folder = Path(ir_dir)
    if not folder.is_dir():
        return ()
    return tuple(sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in _IR_SUFFIXES))


_ir_files = functools.lru_cache(maxsize=64)(_list_ir_files)  # validation lists afresh


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


# ---------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Param:
    """Schema of one spec parameter.

    ``kind`` is ``"range"`` (``[low, high]`` numbers), ``"int_range"``, ``"value"`` (one number),
    ``"choices"`` (a non-empty list drawn from ``choices``) or ``"path"`` (a folder or ``None``).
    Numbers must lie in ``[lo, hi]``; ``log`` ranges are drawn log-uniformly and must be > 0;
    ``nyquist`` frequencies must stay below ``sr / 2`` (checked when the sample rate is known).
    """

    default: Any
    kind: str = "range"
    lo: float = -math.inf
    hi: float = math.inf
    log: bool = False
    nyquist: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Augmentation:
    """A registered augmentation: apply and draw functions, parameter schema, allowed groups."""

    name: str
    apply: Callable[..., np.ndarray]
    draw: Callable[..., dict]
    params: Mapping[str, Param]
    groups: tuple[str, ...]
    description: str

    @property
    def defaults(self) -> dict:
        """The full default spec (``p`` = 0; the group defaults in ``DEFAULT_GROUPS`` set ``p``)."""
        return {"p": 0.0, **{name: copy.deepcopy(par.default) for name, par in self.params.items()}}


_ALL, _CN, _NM = GROUPS, ("clean", "noise"), ("noise", "mixture")
_LEVEL = {"lo": -200.0, "hi": 0.0}
_FRACTION = {"lo": 0.0, "hi": 1.0}
_AMPLITUDE = {"lo": 0.0, "hi": 1.0, "log": True}

#: Registered augmentations, in application order: gain, shift and room; additive noises and
#: events; the disc modulation (which then also modulates them); the channel (band limit, clipping).
AUGMENTATIONS: dict[str, Augmentation] = {a.name: a for a in (
    Augmentation("volume", volume, draw_volume, {"gain_db": Param([-6.0, 6.0])}, _ALL,
                 "gain change, uniform in dB"),
    Augmentation("time_shift", time_shift, draw_time_shift,
                 {"max_fraction": Param(0.5, "value", **_FRACTION)}, _CN,
                 "circular shift by up to max_fraction of the length, either direction"),
    Augmentation("reverb", reverb, draw_reverb,
                 {"rt60_s": Param([0.1, 0.6], lo=0.0, hi=10.0, log=True),
                  "predelay_ms": Param([0.0, 20.0], lo=0.0, hi=1000.0),
                  "wet": Param([0.3, 1.0], **_FRACTION), "ir_dir": Param(None, "path")}, _CN,
                 "synthetic (or measured, from ir_dir) room reverb, loudness preserved"),
    Augmentation("colored_noise", colored_noise, draw_colored_noise,
                 {"snr_db": Param([0.0, 30.0], lo=-100.0, hi=200.0),
                  "colors": Param(list(COLORS), "choices", choices=COLORS),
                  "floor_db": Param(-50.0, "value", **_LEVEL)}, _NM,
                 "white/pink/brown noise at an SNR relative to the signal"),
    Augmentation("hiss", hiss, draw_hiss, {"level_db": Param([-60.0, -30.0], **_LEVEL)}, _NM,
                 "high-frequency surface hiss at an absolute dBFS level"),
    Augmentation("clicks", clicks, draw_clicks,
                 {"rate_hz": Param([0.5, 8.0], lo=0.0, hi=1000.0, log=True),
                  "width_ms": Param([0.1, 2.0], lo=0.0, hi=100.0, log=True),
                  "amplitude": Param([0.05, 0.8], **_AMPLITUDE)}, _NM,
                 "impulsive clicks, Poisson in time"),
    Augmentation("thumps", thumps, draw_thumps,
                 {"rate_hz": Param([0.05, 0.5], lo=0.0, hi=100.0, log=True),
                  "freq_hz": Param([15.0, 80.0], lo=0.0, log=True, nyquist=True),
                  "decay_ms": Param([30.0, 200.0], lo=0.0, hi=10000.0, log=True),
                  "amplitude": Param([0.05, 0.5], **_AMPLITUDE)}, _NM,
                 "low-frequency damped-sinusoid thumps, Poisson in time"),
    Augmentation("rumble", rumble, draw_rumble,
                 {"cutoff_hz": Param([20.0, 60.0], lo=0.0, log=True, nyquist=True),
                  "level_db": Param([-50.0, -25.0], **_LEVEL)}, _NM,
                 "low-passed turntable rumble at an absolute dBFS level"),
    Augmentation("periodicity", periodicity, draw_periodicity,
                 {"period_s": Param([0.75, 0.79], lo=0.0, hi=60.0, log=True),
                  "depth": Param([0.1, 0.5], **_FRACTION),
                  "click_amplitude": Param([0.0, 0.2], **_FRACTION)}, _NM,
                 "78-rpm once-per-revolution amplitude modulation and click"),
    Augmentation("lowpass", lowpass, draw_lowpass,
                 {"cutoff_hz": Param([2000.0, 7000.0], lo=0.0, log=True, nyquist=True),
                  "order": Param([4, 8], "int_range", lo=1, hi=16)}, _ALL,
                 "zero-phase Butterworth low-pass (band limit)"),
    Augmentation("clipping", clipping, draw_clipping,
                 {"threshold": Param([0.3, 0.9], lo=0.01, hi=1.0)}, ("mixture",),
                 "hard clipping at a fraction of the peak"),
)}

_GROUP_P = {
    "clean": {"time_shift": 0.5, "reverb": 0.2, "lowpass": 0.1},
    "noise": {"lowpass": 0.2, "reverb": 0.2, "colored_noise": 0.3, "hiss": 0.1, "clicks": 0.1,
              "thumps": 0.05, "rumble": 0.05, "periodicity": 0.0},
    "mixture": {"clipping": 0.1},
}

#: Default spec of every group: all augmentations allowed there, in registry order, with full
#: parameters (``p`` = 0 where it is off by default).
DEFAULT_GROUPS: dict[str, dict[str, dict]] = {
    group: {name: {**aug.defaults, "p": _GROUP_P[group].get(name, 0.0)}
            for name, aug in AUGMENTATIONS.items() if group in aug.groups}
    for group in GROUPS
}


# -------------------------------------------------------------------------------- validation
def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_param(par: Param, value: Any, key: str) -> Any:
    def fail(why: str):
        raise ConfigError(f"{key}={_fmt(value)}: {why}", key=key)

    if par.kind == "path":
        if value is None:
            return None
        if not isinstance(value, (str, PathLike)):
            fail("must be a folder path or null")
        if not _list_ir_files(str(value)):
            fail(f"is not a folder holding audio files ({', '.join(_IR_SUFFIXES)})")
        return str(value)
    if par.kind == "choices":
        ok = isinstance(value, (list, tuple)) and value
        if not (ok and all(isinstance(v, str) and v in par.choices for v in value)):
            fail(f"must be a non-empty list of {', '.join(par.choices)}")
        return [str(v) for v in value]
    if par.kind == "value":
        numbers = [value]
        if not _is_number(value):
            fail("must be a number")
    elif not (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))):
        fail("must be a [low, high] list of two numbers")
    else:
        numbers = list(value)
    numbers = [float(v) for v in numbers]
    if not all(map(math.isfinite, numbers)):
        fail("must be finite")
    if par.kind == "int_range":
        if not all(v.is_integer() for v in numbers):
            fail("must be integers")
        numbers = [int(v) for v in numbers]
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        fail("low must be <= high")
    if par.log and min(numbers) <= 0:
        fail("values must be > 0 (drawn log-uniformly)")
    if not all(par.lo <= v <= par.hi for v in numbers):
        fail(f"values must lie in [{par.lo:g}, {par.hi:g}]")
    return numbers if par.kind != "value" else numbers[0]


def validate_group(group: str, spec: Mapping | None = None) -> dict[str, dict]:
    """Validates one group's spec and fills defaults.

    Only the augmentations listed in ``spec`` are returned (in registry order); a listed one with
    missing parameters (or ``None`` as its value) gets the group defaults for them. ``None`` as
    ``spec`` means ``DEFAULT_GROUPS[group]``.

    Raises:
        ConfigError: unknown group, augmentation or parameter, augmentation not allowed in the
            group, ``p`` outside [0, 1], malformed ranges or values out of their domain. The
            error's ``key`` is ``augment.<group>.<name>[.<param>]``.
    """
    if group not in DEFAULT_GROUPS:
        raise ConfigError(f"augment.{group}: unknown group {group!r}; valid: {', '.join(GROUPS)}",
                          key=f"augment.{group}")
    defaults = DEFAULT_GROUPS[group]
    spec = defaults if spec is None else spec
    if not isinstance(spec, Mapping):
        raise ConfigError(f"augment.{group}={_fmt(spec)}: must be a mapping of augmentation names"
                          " to parameters", key=f"augment.{group}")
    resolved = {}
    for name, entry in spec.items():
        key = f"augment.{group}.{name}"
        if name not in defaults:
            why = (f"{name!r} is not allowed in group {group!r}" if name in AUGMENTATIONS
                   else f"unknown augmentation {name!r}")
            raise ConfigError(f"{key}: {why}; valid for {group!r}: {', '.join(defaults)}", key=key)
        entry = {} if entry is None else entry
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{key}={_fmt(entry)}: must be a mapping of parameters", key=key)
        out = copy.deepcopy(defaults[name])
        for pname, value in entry.items():
            pkey = f"{key}.{pname}"
            if pname == "p":
                if not (_is_number(value) and 0.0 <= float(value) <= 1.0):
                    raise ConfigError(f"{pkey}={_fmt(value)}: must be a number in [0, 1]", key=pkey)
                out["p"] = float(value)
            elif pname in AUGMENTATIONS[name].params:
                out[pname] = _check_param(AUGMENTATIONS[name].params[pname], value, pkey)
            else:
                raise ConfigError(f"{pkey}: unknown parameter {pname!r}; valid: "
                                  f"{', '.join(defaults[name])}", key=pkey)
        resolved[name] = out
    return {name: resolved[name] for name in AUGMENTATIONS if name in resolved}


class Augmenter:
    """Applies a validated group spec: each augmentation with probability ``p``, in registry order.

    Args:
        group: ``"clean"``, ``"noise"`` or ``"mixture"``.
        spec: The group's spec (see :func:`validate_group`); ``None`` for ``DEFAULT_GROUPS[group]``.

    Attributes:
        spec: The validated spec.
        last_params: ``(name, concrete params)`` of each augmentation applied by the last call.
    """

    def __init__(self, group: str, spec: Mapping | None = None):
        self.group = group
        self.spec = validate_group(group, spec)
        self.last_params: list[tuple[str, dict]] = []
        self._checked_sr: set[float] = set()

    @property
    def enabled(self) -> bool:
        """Whether any augmentation has ``p`` > 0."""
        return any(entry["p"] > 0 for entry in self.spec.values())

    def _check_sr(self, sr: float) -> None:
        if sr in self._checked_sr:
            return
        if not (_is_number(sr) and sr > 0):
            raise ConfigError(f"sr={_fmt(sr)}: must be a positive sample rate in Hz")
        for name, entry in self.spec.items():
            for pname, par in AUGMENTATIONS[name].params.items():
                if par.nyquist and entry["p"] > 0 and entry[pname][1] >= sr / 2:
                    key = f"augment.{self.group}.{name}.{pname}"
                    raise ConfigError(f"{key}={_fmt(entry[pname])}: high must be below the Nyquist"
                                      f" frequency sr/2 = {sr / 2:g} Hz", key=key)
        self._checked_sr.add(sr)

    def __call__(self, x, sr: float, rng: np.random.Generator) -> np.ndarray:
        """Augments ``x`` (1-D, sample rate ``sr`` Hz); returns a new float32 array of its length.

        Raises:
            AudioError: ``x`` is not 1-D or holds NaN/Inf.
            ConfigError: a frequency range reaches ``sr / 2``.
        """
        y = source = _audio(x)
        if not np.isfinite(y).all():
            raise AudioError("audio contains NaN or Inf")
        self._check_sr(sr)
        self.last_params = []
        for name, entry in self.spec.items():
            p = entry["p"]
            if y.size == 0 or p <= 0 or (p < 1 and rng.random() >= p):
                continue
            aug = AUGMENTATIONS[name]
            params = aug.draw(rng, **{k: v for k, v in entry.items() if k != "p"})
            y = aug.apply(y, sr, rng, **params)
            self.last_params.append((name, params))
        return y.copy() if y is source else y
