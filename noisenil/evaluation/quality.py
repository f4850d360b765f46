"""Quality measures for evaluation: which metrics exist, how they are named and ranked, and
the entry points that score one estimate with all of them.

These are the evaluation metrics of the design (the training metric is
:class:`noisenil.models.metrics.SNR`, written with ``keras.ops``); this module imports neither
Keras nor TensorFlow. The measures themselves live by kind:

- :mod:`noisenil.dsp.measures`: SNR, segmental SNR and SI-SDR (dB, capped at 100);
- :mod:`noisenil.evaluation.perceptual`: PESQ and STOI, the optional ``eval`` extra
  (``pip install "noisenil[eval]"``); without it their scores are NaN with the install hint,
  and :func:`available_metrics` says which metrics can run;
- :mod:`noisenil.evaluation.spectrogram`: MSE and SSIM (scikit-image) of noisenil features.

:func:`audio_scores` and :func:`spectrogram_scores` score one estimate against its reference;
:data:`METRIC_INFO` labels and ranks every metric, and :func:`metric_info` /
:func:`metric_label` do so for improvements ``delta_<metric>`` too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from noisenil.errors import ConfigError
from noisenil.dsp.checks import check_pair, check_rate
from noisenil.evaluation.perceptual import Score, missing_hint, pesq_score, stoi_score
from noisenil.evaluation.spectrogram import spectrogram_mse, spectrogram_ssim
from noisenil.dsp.measures import segmental_snr, si_sdr, snr

logger = logging.getLogger(__name__)

#: Audio metrics :func:`audio_scores` computes by default, in column order.
AUDIO_METRICS = ("snr", "segmental_snr", "si_sdr", "pesq", "stoi")

#: Spectrogram metrics, computed on noisenil features (see :func:`spectrogram_scores`).
SPECTROGRAM_METRICS = ("spectrogram_mse", "spectrogram_ssim")


@dataclass(frozen=True)
class MetricInfo:
    """How to label and rank a metric.

    Attributes:
        label: Human-readable name for tables and plot axes.
        unit: Unit for axis labels (empty when dimensionless).
        higher_is_better: Ranking direction; improvements ``delta_<m>`` follow the same direction.
        low: The smallest value the metric can take (``None``: unbounded); plots clip their
            confidence bands to ``[low, high]``.
        high: The largest value it can take (``None``: unbounded).
    """

    label: str
    unit: str
    higher_is_better: bool
    low: float | None = None
    high: float | None = None


#: Every evaluation metric, in report order.
METRIC_INFO: dict[str, MetricInfo] = {
    "si_sdr": MetricInfo("SI-SDR", "dB", True, high=100.0),
    "snr": MetricInfo("SNR", "dB", True, high=100.0),
    "segmental_snr": MetricInfo("segmental SNR", "dB", True, low=-10.0, high=35.0),
    "pesq": MetricInfo("PESQ", "MOS-LQO", True, low=-0.5, high=4.64),
    "stoi": MetricInfo("STOI", "", True, low=0.0, high=1.0),
    "spectrogram_ssim": MetricInfo("spectrogram SSIM", "", True, low=-1.0, high=1.0),
    "spectrogram_mse": MetricInfo("spectrogram MSE", "", False, low=0.0),
}


def metric_info(metric: str) -> tuple[MetricInfo, bool]:
    """Label, unit and direction of a metric or of its improvement column.

    Args:
        metric: A :data:`METRIC_INFO` key or ``"delta_<key>"``. Unknown names get their own
            name as label, no unit and higher-is-better.

    Returns:
        ``(info, is_delta)``; for ``delta_`` names the label is prefixed with ``"Δ"`` (and
        the range is open: an improvement has no fixed bounds).
    """
    is_delta = metric.startswith("delta_")
    base = metric[len("delta_"):] if is_delta else metric
    info = METRIC_INFO.get(base, MetricInfo(base, "", True))
    if is_delta:
        info = MetricInfo(f"Δ{info.label}", info.unit, info.higher_is_better)
    return info, is_delta


def snr_label(snr_db: float) -> str:
    """An input-SNR group as a table header or axis tick: ``"5"``, ``"0"`` (never ``"-0"``)."""
    return f"{float(snr_db) + 0.0:g}"


def metric_label(metric: str, *, arrow: bool = False) -> str:
    """Axis or table label of a metric: ``"ΔSI-SDR (dB)"``, optionally with ``↑``/``↓``."""
    info, _ = metric_info(metric)
    text = f"{info.label} ({info.unit})" if info.unit else info.label
    if arrow:
        text += " ↑" if info.higher_is_better else " ↓"
    return text


def available_metrics() -> dict[str, str | None]:
    """Which metrics can run here.

    Returns:
        ``{metric: None}`` for a metric that can run, ``{metric: install hint}`` for one whose
        optional package is missing. Keys: ``spectrogram_mse``, ``spectrogram_ssim`` and the
        names in :data:`AUDIO_METRICS`.
    """
    out: dict[str, str | None] = dict.fromkeys(SPECTROGRAM_METRICS)
    out.update({name: missing_hint(name) for name in AUDIO_METRICS})
    return out


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
    check_rate(sample_rate)
    check_pair(ref, est, names=("clean", "estimate"))
    out = {}
    for name in names:
        score = _audio_metric(name, ref, est, sample_rate)
        if score.note:
            logger.debug("%s: %s", name, score.note)
        out[name] = score.value
    return out


def spectrogram_scores(ref_features: np.ndarray, est_features: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`SPECTROGRAM_METRICS` for one estimate's features.

    Shape:
        Both ``(freq, time)`` or ``(freq, time, channels)``, equal shapes.
    """
    return {"spectrogram_mse": spectrogram_mse(ref_features, est_features),
            "spectrogram_ssim": spectrogram_ssim(ref_features, est_features)}
