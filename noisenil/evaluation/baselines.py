"""Classical (non-learned) speech denoisers, to put the networks' scores in context.

Every baseline is a function ``f(noisy, *, sample_rate, stft=None, ...) -> denoised`` that returns
exactly ``len(noisy)`` samples and works on noisenil's own STFT (:func:`noisenil.dsp.features.stft`,
default 16 kHz, ``n_fft=254``, hop 64, Hann), so it sees the same time-frequency grid as the
networks. Like the learned pipeline, a signal at another rate is resampled to
``processing_rate`` (16 kHz) for processing and back afterwards; ``processing_rate=None``
processes at the input's own rate.

**Noise estimate.** The noise power spectral density comes from the noisy signal itself: the
per-bin mean power of the quietest ``noise_quantile`` (15 %) of frames, ranked by total frame
energy. This assumes roughly stationary noise and some speech pauses; it is the classical
"noise-only frames" estimate with the voice-activity decision replaced by an energy rank.

The spectral-domain baselines apply a real gain ``G(bin, frame)`` to the noisy STFT and keep the
noisy phase:

- :func:`spectral_subtraction`: Boll (1979) with Berouti et al.'s (1979) over-subtraction and
  spectral floor.
- :func:`wiener_filter`: Wiener gain ``xi / (1 + xi)`` with the decision-directed a-priori SNR
  ``xi`` of Ephraim and Malah (1984).
- :func:`log_mmse`: the Ephraim-Malah (1985) log-spectral amplitude (LSA) estimator, also
  decision-directed.
- :func:`spectral_gating`: the ``noisereduce`` package (stationary spectral gating), an optional
  dependency that noisenil does not install.

``BASELINES`` maps names to functions; :func:`available_baselines` lists those that can run here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import scipy.special

from noisenil.dsp import features
from noisenil.dsp.audio_io import resample
from noisenil.config import StftConfig
from noisenil.errors import AudioError, ConfigError, MissingDependencyError

#: Rate the baselines process at by default (the design's STFT rate), in Hz.
PROCESSING_RATE = 16000

_TINY = 1e-12
GainRule = Callable[[np.ndarray, np.ndarray], np.ndarray]


# --- shared plumbing ------------------------------------------------------------------------

def estimate_noise_psd(power: np.ndarray, *, quantile: float = 0.15) -> np.ndarray:
    """Noise power spectral density from the quietest frames of a power spectrogram.

    Args:
        power: ``|STFT|**2``, shape ``(bins, frames)``.
        quantile: Fraction of frames, ranked by total energy, treated as noise only (at least
            one frame).

    Returns:
        ``(bins, 1)`` mean power of those frames per bin, floored at a tiny positive value.
    """
    if not 0.0 < quantile <= 1.0:
        raise ConfigError(f"noise_quantile={quantile!r} must be in (0, 1]", key="noise_quantile")
    count = max(1, int(round(quantile * power.shape[1])))
    quietest = np.argsort(np.sum(power, axis=0))[:count]
    return np.maximum(np.mean(power[:, quietest], axis=1, keepdims=True), _TINY)


def _apply_gain(noisy: np.ndarray, sample_rate: int, stft: StftConfig | None,
                processing_rate: int | None, noise_quantile: float,
                rule: GainRule) -> np.ndarray:
    """STFT -> noise PSD -> ``rule(power, noise_psd)`` gain -> ISTFT, at the processing rate."""
    x = _check_noisy(noisy, sample_rate)
    cfg = stft or StftConfig()
    rate = processing_rate or sample_rate
    y = resample(x, sample_rate, rate)
    spec = features.stft(y, cfg)
    power = np.abs(spec).astype(np.float64) ** 2
    gain = rule(power, estimate_noise_psd(power, quantile=noise_quantile))
    out = features.istft((spec * gain).astype(np.complex64), cfg, length=y.shape[0])
    return _back_to_length(resample(out, rate, sample_rate), x.shape[0])


def _check_noisy(noisy: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(noisy, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise AudioError(f"noisy: expected a non-empty 1-D signal (samples,), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise AudioError("noisy: contains NaN or Inf samples")
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ConfigError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)",
                          key="sample_rate")
    return x


def _back_to_length(y: np.ndarray, length: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)[:length]
    return np.pad(y, (0, length - y.shape[0])) if y.shape[0] < length else y


def _decision_directed(power: np.ndarray, noise_psd: np.ndarray, gain_of: GainRule, *,
                       alpha: float, xi_min: float) -> np.ndarray:
    """Gains ``gain_of(xi, gamma)`` frame by frame with the decision-directed a-priori SNR.

    ``gamma = |Y|**2 / N`` is the a-posteriori SNR; ``xi = alpha * |S_prev|**2 / N +
    (1 - alpha) * max(gamma - 1, 0)``, floored at ``xi_min``, where ``S_prev`` is the previous
    frame's estimate (Ephraim and Malah, 1984, eq. 51). The first frame uses ``|S_prev|**2 = N``.
    """
    gamma = power / noise_psd
    gains = np.empty_like(power)
    prev = np.ones(power.shape[0])  # |S_prev|**2 / N
    for t in range(power.shape[1]):
        xi = np.maximum(alpha * prev + (1.0 - alpha) * np.maximum(gamma[:, t] - 1.0, 0.0), xi_min)
        gains[:, t] = gain_of(xi, gamma[:, t])
        prev = gains[:, t] ** 2 * gamma[:, t]
    return gains


def _wiener_gain(xi: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    return xi / (1.0 + xi)


def _lsa_gain(xi: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Ephraim-Malah (1985) LSA gain ``xi/(1+xi) * exp(E1(v)/2)``, ``v = xi/(1+xi) * gamma``."""
    ratio = xi / (1.0 + xi)
    v = np.maximum(ratio * gamma, 1e-10)
    return np.minimum(ratio * np.exp(0.5 * scipy.special.exp1(v)), 1.0)


# --- the baselines --------------------------------------------------------------------------

def spectral_subtraction(noisy: np.ndarray, *, sample_rate: int, stft: StftConfig | None = None,
                         over_subtraction: float = 1.5, floor: float = 0.02,
                         exponent: float = 1.0, noise_quantile: float = 0.15,
                         processing_rate: int | None = PROCESSING_RATE) -> np.ndarray:
    """Spectral subtraction (Boll, 1979) with over-subtraction and a spectral floor (Berouti).

    ``|S|**p = max(|Y|**p - over_subtraction * N**(p/2), floor * |Y|**p)`` with ``N`` the noise
    power, i.e. the gain ``max(1 - over_subtraction * (N / |Y|**2)**(p/2), floor)**(1/p)``.

    Args:
        noisy: Noisy signal ``(samples,)``, float in [-1, 1].
        sample_rate: Its rate in Hz.
        stft: STFT settings; noisenil's defaults when ``None``.
        over_subtraction: Factor on the noise estimate (``alpha`` >= 1 removes more noise and
            more speech).
        floor: Spectral floor ``beta``, a fraction of the noisy ``|Y|**p`` always kept.
        exponent: ``p``: 1 subtracts magnitudes (Boll's original), 2 powers.
        noise_quantile: Fraction of quietest frames that estimate the noise.
        processing_rate: Rate to process at in Hz; ``None`` keeps ``sample_rate``.

    Returns:
        float32 denoised signal, ``(samples,)`` like ``noisy``.
    """
    def rule(power: np.ndarray, noise: np.ndarray) -> np.ndarray:
        ratio = (noise / np.maximum(power, _TINY)) ** (exponent / 2.0)
        return np.maximum(1.0 - over_subtraction * ratio, floor) ** (1.0 / exponent)

    return _apply_gain(noisy, sample_rate, stft, processing_rate, noise_quantile, rule)


def wiener_filter(noisy: np.ndarray, *, sample_rate: int, stft: StftConfig | None = None,
                  alpha: float = 0.98, xi_min_db: float = -15.0, noise_quantile: float = 0.15,
                  processing_rate: int | None = PROCESSING_RATE) -> np.ndarray:
    """Wiener filter ``G = xi / (1 + xi)`` with the decision-directed a-priori SNR ``xi``.

    Args:
        noisy: Noisy signal ``(samples,)``, float in [-1, 1].
        sample_rate: Its rate in Hz.
        stft: STFT settings; noisenil's defaults when ``None``.
        alpha: Decision-directed smoothing (Ephraim and Malah, 1984: 0.98).
        xi_min_db: Floor of the a-priori SNR in dB (limits musical noise and attenuation).
        noise_quantile: Fraction of quietest frames that estimate the noise.
        processing_rate: Rate to process at in Hz; ``None`` keeps ``sample_rate``.

    Returns:
        float32 denoised signal, ``(samples,)`` like ``noisy``.
    """
    def rule(power: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return _decision_directed(power, noise, _wiener_gain, alpha=alpha,
                                  xi_min=10.0 ** (xi_min_db / 10.0))

    return _apply_gain(noisy, sample_rate, stft, processing_rate, noise_quantile, rule)


def log_mmse(noisy: np.ndarray, *, sample_rate: int, stft: StftConfig | None = None,
             alpha: float = 0.98, xi_min_db: float = -15.0, noise_quantile: float = 0.15,
             processing_rate: int | None = PROCESSING_RATE) -> np.ndarray:
    """Log-spectral amplitude MMSE estimator (Ephraim and Malah, 1985), decision-directed.

    ``G = xi / (1 + xi) * exp(E1(v) / 2)`` with ``v = xi / (1 + xi) * gamma`` and ``E1`` the
    exponential integral (:func:`scipy.special.exp1`); the gain is capped at 1 so quiet bins are
    never amplified.

    Args:
        noisy: Noisy signal ``(samples,)``, float in [-1, 1].
        sample_rate: Its rate in Hz.
        stft: STFT settings; noisenil's defaults when ``None``.
        alpha: Decision-directed smoothing (0.98).
        xi_min_db: Floor of the a-priori SNR in dB.
        noise_quantile: Fraction of quietest frames that estimate the noise.
        processing_rate: Rate to process at in Hz; ``None`` keeps ``sample_rate``.

    Returns:
        float32 denoised signal, ``(samples,)`` like ``noisy``.
    """
    def rule(power: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return _decision_directed(power, noise, _lsa_gain, alpha=alpha,
                                  xi_min=10.0 ** (xi_min_db / 10.0))

    return _apply_gain(noisy, sample_rate, stft, processing_rate, noise_quantile, rule)


def _noisereduce():
    try:
        return importlib.import_module("noisereduce")
    except ImportError:
        return None


def spectral_gating(noisy: np.ndarray, *, sample_rate: int, stft: StftConfig | None = None,
                    stationary: bool = True, prop_decrease: float = 1.0,
                    processing_rate: int | None = PROCESSING_RATE) -> np.ndarray:
    """Spectral gating with the ``noisereduce`` package (Sainburg), on noisenil's STFT sizes.

    ``noisereduce`` is optional and not a noisenil dependency; it estimates its own noise
    threshold (the whole signal's per-bin statistics when stationary).

    Args:
        noisy: Noisy signal ``(samples,)``, float in [-1, 1].
        sample_rate: Its rate in Hz.
        stft: STFT settings (``n_fft`` and ``hop_length`` are passed on; Hann window).
        stationary: Stationary (fixed threshold) or non-stationary gating.
        prop_decrease: Fraction by which gated bins are reduced (1.0 = fully).
        processing_rate: Rate to process at in Hz; ``None`` keeps ``sample_rate``.

    Returns:
        float32 denoised signal, ``(samples,)`` like ``noisy``.

    Raises:
        MissingDependencyError: ``noisereduce`` is not installed (with the install hint).
    """
    module = _noisereduce()
    if module is None:
        raise MissingDependencyError("spectral_gating needs the optional 'noisereduce' package, "
                                     "which noisenil does not install: pip install noisereduce")
    x = _check_noisy(noisy, sample_rate)
    cfg = stft or StftConfig()
    rate = processing_rate or sample_rate
    y = module.reduce_noise(y=resample(x, sample_rate, rate), sr=rate, stationary=stationary,
                            prop_decrease=prop_decrease, n_fft=cfg.n_fft,
                            hop_length=cfg.hop_length)
    return _back_to_length(resample(np.asarray(y, np.float32), rate, sample_rate), x.shape[0])


#: Every baseline by name (some may need optional packages: see :func:`available_baselines`).
BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "spectral_subtraction": spectral_subtraction,
    "wiener": wiener_filter,
    "log_mmse": log_mmse,
    "spectral_gating": spectral_gating,
}


def available_baselines() -> list[str]:
    """Names in :data:`BASELINES` that can run here (``spectral_gating`` needs noisereduce)."""
    return [name for name in BASELINES if name != "spectral_gating" or _noisereduce() is not None]


def get_baseline(name: str) -> Callable[..., np.ndarray]:
    """The baseline called ``name``.

    Raises:
        ConfigError: Unknown name (the message lists the choices).
        MissingDependencyError: Known, but its optional package is missing.
    """
    if name not in BASELINES:
        raise ConfigError(f"baseline={name!r}: unknown; choose from {sorted(BASELINES)}",
                          key="baseline")
    if name not in available_baselines():
        raise MissingDependencyError(f"baseline {name!r} needs the optional 'noisereduce' "
                                     "package: pip install noisereduce")
    return BASELINES[name]
