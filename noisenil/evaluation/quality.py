"""Quality measures for evaluation, in numpy: spectrogram MSE/SSIM and audio SNR, segmental SNR,
SI-SDR, PESQ and STOI.

These are the evaluation metrics of the design (the training metric is
:class:`noisenil.models.metrics.SNR`, written with ``keras.ops``); this module imports neither Keras nor
TensorFlow. Well-kept libraries do the work where they exist: scikit-image for SSIM, ``pesq``
(ITU-T P.862) and ``pystoi`` for PESQ and STOI. The last two are the optional ``eval`` extra
(``pip install "noisenil[eval]"``); without them :func:`pesq_score` and :func:`stoi_score` return
NaN with the install hint in :attr:`Score.note` instead of raising, and
:func:`available_metrics` says which metrics can run.

Conventions:

- Audio arguments are 1-D float arrays ``(samples,)`` of equal length, reference (clean) first,
  estimate second. NaN/Inf samples or unequal lengths raise :class:`~noisenil.errors.AudioError`
  naming the argument.
- dB values are ``10 * log10`` of energy ratios. SNR and SI-SDR are capped at
  :data:`MAX_DB` (100 dB), which a perfect or merely rescaled estimate reaches.
- Spectrogram arguments are noisenil features ``(freq, time)`` or ``(freq, time, channels)``; the
  default dB magnitude features lie in [0, 1], hence ``data_range=1.0``.
"""

from __future__ import annotations

import importlib
import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from noisenil.errors import AudioError, ConfigError

logger = logging.getLogger(__name__)

#: Cap, in dB, of :func:`snr` and :func:`si_sdr` (reached by identical or rescaled signals).
MAX_DB = 100.0
#: Install hint carried by missing optional metrics.
INSTALL_HINT = 'pip install "noisenil[eval]"'
#: Audio metrics :func:`evaluate_pair` computes by default, in column order.
AUDIO_METRICS = ("snr", "segmental_snr", "si_sdr", "pesq", "stoi")

#: Spectrogram metrics, computed on noisenil features (see :func:`spectrogram_mse`).
SPECTROGRAM_METRICS = ("spectrogram_mse", "spectrogram_ssim")


@dataclass(frozen=True)
class MetricInfo:
    """How to label and rank a metric.

    Attributes:
        label: Human-readable name for tables and plot axes.
        unit: Unit for axis labels (empty when dimensionless).
        higher_is_better: Ranking direction; improvements ``delta_<m>`` follow the same direction.
    """

    label: str
    unit: str
    higher_is_better: bool


#: Every evaluation metric, in report order.
METRIC_INFO: dict[str, MetricInfo] = {
    "si_sdr": MetricInfo("SI-SDR", "dB", True),
    "snr": MetricInfo("SNR", "dB", True),
    "segmental_snr": MetricInfo("segmental SNR", "dB", True),
    "pesq": MetricInfo("PESQ", "MOS-LQO", True),
    "stoi": MetricInfo("STOI", "", True),
    "spectrogram_ssim": MetricInfo("spectrogram SSIM", "", True),
    "spectrogram_mse": MetricInfo("spectrogram MSE", "", False),
}

_EPS = 1e-20
_OPTIONAL = {"pesq": "pesq", "stoi": "pystoi"}  # metric -> module of the eval extra


@dataclass(frozen=True)
class Score:
    """A metric value with a note on how it was obtained.

    Attributes:
        value: The score; NaN when it could not be computed.
        note: Empty when the metric ran as asked; otherwise why not or what was changed (the
            rate PESQ was resampled to, or the install hint of a missing package).
    """

    value: float
    note: str = ""

    def __float__(self) -> float:
        return float(self.value)


def _optional_module(metric: str) -> ModuleType | None:
    try:
        return importlib.import_module(_OPTIONAL[metric])
    except ImportError:
        return None


def _missing_hint(metric: str) -> str:
    return f"{metric} needs the '{_OPTIONAL[metric]}' package: {INSTALL_HINT}"


def available_metrics() -> dict[str, str | None]:
    """Which metrics can run here.

    Returns:
        ``{metric: None}`` for a metric that can run, ``{metric: install hint}`` for one whose
        optional package is missing. Keys: ``spectrogram_mse``, ``spectrogram_ssim`` and the
        names in :data:`AUDIO_METRICS`.
    """
    out: dict[str, str | None] = {"spectrogram_mse": None, "spectrogram_ssim": None}
    for name in AUDIO_METRICS:
        missing = name in _OPTIONAL and _optional_module(name) is None
        out[name] = _missing_hint(name) if missing else None
    return out


def _check_pair(ref: np.ndarray, est: np.ndarray, *, names: tuple[str, str] = ("ref", "est"),
                audio: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 after checking rank, shape and finiteness; errors name the arg."""
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


def _check_rate(sample_rate: int) -> None:
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ConfigError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)",
                          key="sample_rate")


def _ratio_db(num: float, den: float) -> float:
    return min(10.0 * math.log10((num + _EPS) / (den + _EPS)), MAX_DB)


# --- spectrogram measures -------------------------------------------------------------------

def spectrogram_mse(ref_features: np.ndarray, est_features: np.ndarray) -> float:
    """Mean squared error between two feature arrays.

    Shape:
        Both ``(freq, time)`` or ``(freq, time, channels)``, equal shapes.

    Returns:
        The mean over every element, in squared feature units (0 for identical inputs).

    Raises:
        AudioError: Shapes differ or NaN/Inf values, naming the argument.
    """
    a, b = _check_pair(ref_features, est_features, names=("ref_features", "est_features"),
                       audio=False)
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

    a, b = _check_pair(ref_features, est_features, names=("ref_features", "est_features"),
                       audio=False)
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


# --- audio measures -------------------------------------------------------------------------

def snr(ref: np.ndarray, est: np.ndarray) -> float:
    """Signal-to-noise ratio of an estimate, ``10*log10(sum(ref**2) / sum((ref - est)**2))``.

    Shape:
        ``ref`` and ``est``: ``(samples,)``, equal lengths.

    Returns:
        SNR in dB, capped at :data:`MAX_DB` (identical signals give 100 dB).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples, naming the argument.
    """
    r, e = _check_pair(ref, est)
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
    _check_rate(sample_rate)
    r, e = _check_pair(ref, est)
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
    r, e = _check_pair(ref, est)
    r = r - r.mean()
    e = e - e.mean()
    alpha = float(np.dot(e, r)) / (float(np.dot(r, r)) + _EPS)
    target = alpha * r
    return _ratio_db(float(np.sum(target ** 2)), float(np.sum((e - target) ** 2)))


def pesq_score(ref: np.ndarray, est: np.ndarray, *, sample_rate: int) -> Score:
    """PESQ (ITU-T P.862) mean opinion score, via the ``pesq`` package.

    16 kHz signals get wide-band PESQ (P.862.2, up to about 4.64), 8 kHz signals narrow-band
    (up to about 4.55). Other rates are resampled (soxr) to 16 kHz wide-band, or to 8 kHz
    narrow-band when ``sample_rate < 16000``; the returned :attr:`Score.note` says so
    (:func:`evaluate_pair` logs it at INFO).

    Args:
        ref: Clean reference ``(samples,)``, float in [-1, 1].
        est: Estimate ``(samples,)``.
        sample_rate: Rate of both signals in Hz.

    Returns:
        :class:`Score`; NaN with the install hint when ``pesq`` is missing, NaN with the PESQ
        error when the signals cannot be scored (e.g. no utterance found, under 0.25 s).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples, naming the argument.
        ConfigError: ``sample_rate`` is not a positive integer.
    """
    _check_rate(sample_rate)
    r, e = _check_pair(ref, est)
    module = _optional_module("pesq")
    if module is None:
        return Score(math.nan, _missing_hint("pesq"))
    if not np.any(r):
        return Score(math.nan, "ref is all zeros: PESQ is undefined")
    rate = 16000 if sample_rate >= 16000 else 8000
    mode = "wb" if rate == 16000 else "nb"
    note = ""
    if rate != sample_rate:
        from noisenil.dsp.audio_io import resample

        r, e = resample(r, sample_rate, rate), resample(e, sample_rate, rate)
        note = f"resampled {sample_rate} Hz -> {rate} Hz for {mode} PESQ"
        logger.debug("pesq_score: %s", note)
    try:
        value = float(module.pesq(rate, r.astype(np.float64), e.astype(np.float64), mode))
    except module.PesqError as err:
        detail = err.args[0] if err.args else ""
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        why = f"PESQ failed: {type(err).__name__}: {detail}"
        return Score(math.nan, f"{note}; {why}" if note else why)
    return Score(value, note)


def stoi_score(ref: np.ndarray, est: np.ndarray, *, sample_rate: int,
               extended: bool = False) -> Score:
    """Short-time objective intelligibility (Taal et al., 2011), via ``pystoi``.

    ``pystoi`` resamples to 10 kHz internally and drops silent frames of the reference.

    Args:
        ref: Clean reference ``(samples,)``.
        est: Estimate ``(samples,)``.
        sample_rate: Rate of both signals in Hz.
        extended: Extended STOI (Jensen and Taal, 2016) instead of STOI.

    Returns:
        :class:`Score` with a value in about [0, 1] (1 for identical signals); NaN with the
        install hint when ``pystoi`` is missing, and NaN with a note when the reference has
        fewer than 30 non-silent frames (~0.4 s; ``pystoi`` would return a meaningless 1e-5).
    """
    _check_rate(sample_rate)
    r, e = _check_pair(ref, est)
    module = _optional_module("stoi")
    if module is None:
        return Score(math.nan, _missing_hint("stoi"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(module.stoi(r, e, sample_rate, extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return Score(math.nan, "too little speech for STOI (< 30 non-silent 25.6 ms frames)")
    return Score(value)


def _audio_metric(name: str, ref: np.ndarray, est: np.ndarray, sample_rate: int) -> Score:
    if name == "snr":
        return Score(snr(ref, est))
    if name == "segmental_snr":
        return Score(segmental_snr(ref, est, sample_rate=sample_rate))
    if name == "si_sdr":
        return Score(si_sdr(ref, est))
    return (pesq_score if name == "pesq" else stoi_score)(ref, est, sample_rate=sample_rate)


def audio_scores(ref: np.ndarray, est: np.ndarray, *, sample_rate: int,
                 metrics: Iterable[str] | None = None) -> dict[str, float]:
    """Score one estimate against its reference with several audio metrics.

    Args:
        ref: Clean reference ``(samples,)``.
        est: Estimate ``(samples,)``.
        sample_rate: Rate of both in Hz.
        metrics: Names from :data:`AUDIO_METRICS`; all of them by default.

    Returns:
        ``{metric: value}``; NaN for a metric whose package is missing (notes are logged).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples.
        ConfigError: An unknown metric name, or a bad ``sample_rate``.
    """
    names = tuple(AUDIO_METRICS if metrics is None else metrics)
    unknown = [m for m in names if m not in AUDIO_METRICS]
    if unknown:
        raise ConfigError(f"metrics={unknown!r}: unknown; choose from {list(AUDIO_METRICS)}",
                          key="metrics")
    _check_rate(sample_rate)
    _check_pair(ref, est, names=("clean", "estimate"))
    out = {}
    for name in names:
        score = _audio_metric(name, ref, est, sample_rate)
        if score.note:
            logger.debug("%s: %s", name, score.note)
        out[name] = score.value
    return out


def evaluate_pair(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, *,
                  sample_rate: int, metrics: Iterable[str] | None = None) -> dict[str, float]:
    """Score a denoised signal and its improvement over the noisy input.

    Args:
        clean: Clean reference ``(samples,)``.
        noisy: The noisy input ``(samples,)``.
        denoised: The denoiser's output ``(samples,)``.
        sample_rate: Rate of all three signals in Hz.
        metrics: Names from :data:`AUDIO_METRICS`; all of them by default.

    Returns:
        For each metric ``m``: ``m`` (the denoised signal's score), ``noisy_m`` (the noisy
        input's) and ``delta_m = m - noisy_m`` (the improvement, e.g. ``delta_snr``, the
        ΔSNR of seed 001). A metric whose package is missing is NaN in all three columns
        (:func:`available_metrics` gives the install hint).

    Raises:
        AudioError: Lengths differ or NaN/Inf samples, naming the argument.
        ConfigError: An unknown metric name, or a bad ``sample_rate``.
    """
    _check_pair(clean, noisy, names=("clean", "noisy"))
    _check_pair(clean, denoised, names=("clean", "denoised"))
    scores = audio_scores(clean, denoised, sample_rate=sample_rate, metrics=metrics)
    reference = audio_scores(clean, noisy, sample_rate=sample_rate, metrics=metrics)
    out: dict[str, float] = {}
    for name, value in scores.items():
        out[name], out[f"noisy_{name}"] = value, reference[name]
        out[f"delta_{name}"] = value - reference[name]
    return out
